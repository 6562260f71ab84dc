"""Training: the shared GAN wrapper, the papers' train steps and the run loop."""
