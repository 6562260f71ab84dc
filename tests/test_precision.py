"""`train.precision`: `auto` trains in bfloat16 only where the processor computes it natively."""

from tfinpaint.config import get_config
from tfinpaint.training.precision import dtype_policy

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse4_2 avx fma avx2\n"
BF16 = "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 avx512f avx512_bf16\n"


def _train(*overrides):
    return get_config(2, "default", list(overrides)).train


def test_auto_picks_bfloat16_only_with_native_support(tmp_path):
    (tmp_path / "avx2").write_text(AVX2_ONLY)
    (tmp_path / "bf16").write_text(BF16)
    train = _train()
    assert train.precision == "auto"
    assert dtype_policy(train, str(tmp_path / "bf16")) == "mixed_bfloat16"
    assert dtype_policy(train, str(tmp_path / "avx2")) == "float32"
    assert dtype_policy(train, str(tmp_path / "missing")) == "float32"


def test_an_explicit_policy_is_kept(tmp_path):
    (tmp_path / "avx2").write_text(AVX2_ONLY)
    cpuinfo = str(tmp_path / "avx2")
    assert dtype_policy(_train("train.precision=mixed_bfloat16"), cpuinfo) == "mixed_bfloat16"
    assert (
        dtype_policy(get_config(2, "demo", ["train.mixed_precision=true"]).train, cpuinfo) == "mixed_float16"
    )
    assert dtype_policy(get_config(2, "demo").train, cpuinfo) == "float32"
