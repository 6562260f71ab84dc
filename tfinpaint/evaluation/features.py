"""Optional learned-feature metrics of an evaluation: FID over a set and LPIPS per image.

- **FID** (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to InceptionV3's
  2048 pooled features of the real and of the completed images (bilinear resize to 299 px).
  Over fewer than a few thousand images it is biased upwards: compare models on the same set only.
- **LPIPS, baseline variant** (Zhang et al. 2018, "lin" layers off): the distance of VGG16's
  relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 features, each unit-normalised over channels,
  squared, summed over channels, averaged over pixels and summed over layers. Without LPIPS'
  learned linear heads (not part of `keras.applications`) this is the paper's "baseline" VGG
  distance, not the calibrated LPIPS value; it ranks fills alike but its numbers differ.

Weights are read, never downloaded: `keras.applications` files from `weights_dir` or from Keras'
cache (`$KERAS_HOME/models`, default `~/.keras/models`). A backbone is a callable from uint8
images [B, H, W, 3] to features (FID: [B, D]; LPIPS: a list of [B, h, w, C] maps), so tests and
users can pass their own (`backbones=`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np

FEATURE_METRICS = ("fid", "lpips")
_WEIGHTS = {  # metric -> (keras.applications weight file, where Keras downloads it from)
    "fid": (
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/",
    ),
    "lpips": (
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/",
    ),
}
_LPIPS_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")
INCEPTION_SIZE = 299


def parse_metrics(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """ "fid,lpips" (or a sequence of names) -> the names, checked; None or "" -> ()."""
    names = text.split(",") if isinstance(text, str) else list(text or ())
    names = [n.strip().lower() for n in names if n.strip()]
    unknown = sorted(set(names) - set(FEATURE_METRICS))
    if unknown:
        raise ValueError(
            f"metrics: unknown {', '.join(unknown)}; expected some of {', '.join(FEATURE_METRICS)}."
        )
    return tuple(dict.fromkeys(names))


def keras_cache_dir() -> str:
    return os.path.join(os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras"), "models")


def weights_path(metric: str, weights_dir: str | None = None) -> str:
    """The weight file a metric's backbone needs, or FileNotFoundError saying how to get it."""
    file, url = _WEIGHTS[metric]
    folders = [weights_dir] if weights_dir else [keras_cache_dir()]
    for folder in folders:
        path = os.path.join(folder, file)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"{metric}: needs the weight file {file}, not found in {folders[0]} "
        f"({'--weights-dir' if weights_dir else 'Keras cache; or pass --weights-dir DIR'}). "
        f"tfinpaint never downloads: fetch {url}{file} on a machine with internet (or run "
        "keras.applications there once, which saves it in ~/.keras/models) and copy it into "
        "that folder."
    )


def inception_backbone(weights: str) -> Callable:
    """InceptionV3's 2048 average-pooled features of uint8 images."""
    import keras
    import tensorflow as tf

    model = keras.applications.InceptionV3(
        include_top=False, weights=weights, pooling="avg", input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3)
    )

    def features(images8):
        x = tf.image.resize(tf.cast(images8, tf.float32), (INCEPTION_SIZE, INCEPTION_SIZE))
        return model(x / 127.5 - 1.0, training=False).numpy()

    return features


def vgg_backbone(weights: str) -> Callable:
    """VGG16's five LPIPS taps (after ReLU: Keras' convolutions include it) of uint8 images."""
    import keras

    vgg = keras.applications.VGG16(include_top=False, weights=weights, input_shape=(None, None, 3))
    model = keras.Model(vgg.input, [vgg.get_layer(name).output for name in _LPIPS_LAYERS])

    def features(images8):
        x = keras.applications.vgg16.preprocess_input(np.asarray(images8, np.float32))
        return [np.asarray(f) for f in model(x, training=False)]

    return features


_BUILDERS = {"fid": inception_backbone, "lpips": vgg_backbone}


def lpips_distance(real_maps: Sequence[np.ndarray], fill_maps: Sequence[np.ndarray]) -> np.ndarray:
    """Baseline LPIPS per image [B] from two lists of feature maps [B, h, w, C]."""
    total = 0.0
    for real, fill in zip(real_maps, fill_maps):
        real = real / (np.linalg.norm(real, axis=-1, keepdims=True) + 1e-10)
        fill = fill / (np.linalg.norm(fill, axis=-1, keepdims=True) + 1e-10)
        total = total + ((real - fill) ** 2).sum(axis=-1).mean(axis=(1, 2))
    return np.asarray(total, np.float64)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to feature sets a [N, D] and b [M, D]:
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))."""
    from scipy import linalg

    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.isfinite(root).all():
        # A near-singular product (few images): offset both as pytorch-fid does.
        offset = np.eye(a.shape[1]) * 1e-6
        root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * np.real(root)))


class FeatureScorer:
    """Builds the requested backbones once (failing early on a missing weight file), then
    scores batches: LPIPS per image, FID features gathered per model for `set_scores`."""

    def __init__(
        self,
        metrics: Sequence[str],
        weights_dir: str | None = None,
        backbones: Mapping[str, Callable] | None = None,
    ):
        self.metrics = parse_metrics(metrics)
        given = dict(backbones or {})
        paths = {m: weights_path(m, weights_dir) for m in self.metrics if m not in given}
        self.backbones = {m: given.get(m) or _BUILDERS[m](paths[m]) for m in self.metrics}
        self._real = {}
        self._fid_features = {"real": [], "fills": {}}

    def real_batch(self, real8: np.ndarray) -> None:
        """The real images of the next batch (their features serve every model)."""
        self._real = {m: self.backbones[m](real8) for m in self.metrics}
        if "fid" in self.metrics:
            self._fid_features["real"].append(np.asarray(self._real["fid"], np.float64))

    def score_batch(self, name: str, completed8: np.ndarray) -> dict:
        """Per-image scores of one model on the current batch: {"lpips": [B]} when asked for."""
        if "fid" in self.metrics:
            fill = np.asarray(self.backbones["fid"](completed8), np.float64)
            self._fid_features["fills"].setdefault(name, []).append(fill)
        if "lpips" in self.metrics:
            return {"lpips": lpips_distance(self._real["lpips"], self.backbones["lpips"](completed8))}
        return {}

    def set_scores(self, name: str) -> dict:
        """Scores over the whole set for a model's row: {"fid": float} when asked for (None with
        fewer than 2 images, where no covariance exists)."""
        if "fid" not in self.metrics:
            return {}
        real = np.concatenate(self._fid_features["real"])
        fills = np.concatenate(self._fid_features["fills"][name])
        return {"fid": frechet_distance(real, fills) if len(real) > 1 else None}
