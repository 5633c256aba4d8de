"""Official pretrained models by name: where Meta publishes them and what architecture they are.

``load_pretrained("vjepa2_vit_large")`` looks for the file in the torch hub cache (``torch.hub.get_dir()/
checkpoints``), downloads it there when the machine can, and otherwise fails saying where to put it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from encoders.pretrained.checkpoint import PretrainedError


@dataclass(frozen=True)
class OfficialModel:
    """A published checkpoint: its address and the architecture it holds (checked after loading)."""

    url: str
    embed_dim: int
    depth: int
    patch_size: int
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


OFFICIAL_MODELS: dict[str, OfficialModel] = {
    "ijepa_vit_huge_14": OfficialModel("https://dl.fbaipublicfiles.com/ijepa/IN1K-vit.h.14-300e.pth.tar", 1280, 32, 14),
    "ijepa_vit_huge_16_448": OfficialModel(
        "https://dl.fbaipublicfiles.com/ijepa/IN1K-vit.h.16-448px-300e.pth.tar", 1280, 32, 16),
    "ijepa_vit_huge_14_in22k": OfficialModel(
        "https://dl.fbaipublicfiles.com/ijepa/IN22K-vit.h.14-900e.pth.tar", 1280, 32, 14),
    "ijepa_vit_giant_16_in22k": OfficialModel(
        "https://dl.fbaipublicfiles.com/ijepa/IN22K-vit.g.16-600e.pth.tar", 1408, 40, 16),
    "vjepa_vit_large": OfficialModel("https://dl.fbaipublicfiles.com/jepa/vitl16/vitl16.pth.tar", 1024, 24, 16),
    "vjepa_vit_huge": OfficialModel("https://dl.fbaipublicfiles.com/jepa/vith16/vith16.pth.tar", 1280, 32, 16),
    "vjepa_vit_huge_384": OfficialModel(
        "https://dl.fbaipublicfiles.com/jepa/vith16-384/vith16-384.pth.tar", 1280, 32, 16),
    "vjepa2_vit_large": OfficialModel("https://dl.fbaipublicfiles.com/vjepa2/vitl.pt", 1024, 24, 16),
    "vjepa2_vit_huge": OfficialModel("https://dl.fbaipublicfiles.com/vjepa2/vith.pt", 1280, 32, 16),
    "vjepa2_vit_giant": OfficialModel("https://dl.fbaipublicfiles.com/vjepa2/vitg.pt", 1408, 40, 16),
    "vjepa2_vit_giant_384": OfficialModel(
        "https://dl.fbaipublicfiles.com/vjepa2/vitg-384.pt", 1408, 40, 16, {"img_size": 384}),
    "vjepa2_ac_vit_giant": OfficialModel("https://dl.fbaipublicfiles.com/vjepa2/vjepa2-ac-vitg.pt", 1408, 40, 16),
}  # fmt: skip


def resolve(name: str, download: bool = True) -> tuple[Path, OfficialModel]:
    """The cached file of an official model (downloaded into the torch hub cache first when missing)."""
    import torch

    if name not in OFFICIAL_MODELS:
        raise PretrainedError(f"unknown model name {name!r}; official names: {', '.join(sorted(OFFICIAL_MODELS))}")
    entry = OFFICIAL_MODELS[name]
    path = Path(torch.hub.get_dir()) / "checkpoints" / entry.filename
    if path.is_file():
        return path, entry
    if download:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(entry.url, str(path), progress=True)
            return path, entry
        except Exception as err:  # URLError, HTTPError, timeouts, ...
            reason = f"{err.__class__.__name__}: {err}"
    else:
        reason = "downloads are off"
    raise PretrainedError(
        f"{name}: {path} is not cached and could not be downloaded from {entry.url} ({reason}); "
        f"fetch it on a machine with internet and copy it to {path}, or pass the file's path"
    )
