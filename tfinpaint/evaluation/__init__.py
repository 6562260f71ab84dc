"""Scoring inpainters: the evaluation loop and its report (`evaluate`), per-image scores
(`scoring`: PSNR / SSIM / L1 and the hole's texture), the texture statistics (`texture`), the
optional learned-feature metrics (`features`: FID, LPIPS) and example grids (`grid`)."""
