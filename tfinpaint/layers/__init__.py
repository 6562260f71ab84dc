"""Keras layers of both papers' networks, each registered under the package name `tfinpaint`."""
