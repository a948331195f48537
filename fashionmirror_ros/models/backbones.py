"""ResNet and VGG19 backbones with torchvision-compatible parameter names.

torchvision cannot be installed beside the CPU torch used here, so the two backbone families the
model needs are defined in this module. Parameter names follow torchvision's layout
(``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer1.0.downsample.0``, ... for ResNet;
``features.0.weight`` ... for VGG19), so a torchvision weight file the user has locally loads with
``load_torchvision_weights``.

- ResNet: BasicBlock (expansion 1) or Bottleneck (expansion 4, stride on the 3x3 conv, the
  "v1.5" layout). A stage may replace its stride 2 by dilation (DeepLabv3 output stride 8): the
  first block of such a stage keeps the previous dilation, the following blocks use the new one.
  Unlike torchvision, BasicBlock also accepts dilation (shapes are unchanged, so weights load).
- VGG19 ``features``: configuration "E" (16 convs, 5 max-pools), ReLU after each conv. Layers are
  named ``relu{block}_{index}``: relu3_1 is at 1/4 and relu4_1 at 1/8 of the input.
- ``VGG19FeatureExtractor`` is frozen (no gradients to its parameters, always in eval mode). It
  takes RGB in [0, 1] and normalises with ImageNet statistics. With no weight file it is randomly
  initialised from a fixed seed: random frozen convolutions still respond to local structure
  (edges, texture), so the perceptual and correctness losses remain meaningful, but only users
  who load the ImageNet weights get the loss the paper used.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# VGG19 ("E"): conv widths, "M" = 2x2 max-pool
VGG19_LAYOUT: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)

# BatchNorm buffers that old torchvision files do not carry; BatchNorm fills them itself.
_OPTIONAL_KEY_SUFFIXES = ("num_batches_tracked",)


class WeightLoadError(RuntimeError):
    """A weight file is missing, unreadable, or does not fit the module."""


class ImageNormalizer(nn.Module):
    """RGB in [0, 1] -> ImageNet-normalised input. Buffers are not saved in state dicts."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: Tensor) -> Tensor:
        return (image - self.mean) / self.std


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=dilation,
                     dilation=dilation, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1
    CONV_BN_PAIRS = (("conv1", "bn1"), ("conv2", "bn2"))  # each norm reads its conv alone (layers.fold_batch_norms)

    def __init__(self, in_channels: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, planes, stride, dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, 1, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4
    CONV_BN_PAIRS = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))

    def __init__(self, in_channels: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv1x1(in_channels, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {
    "basic": BasicBlock, "bottleneck": Bottleneck,
}


class ResNetBackbone(nn.Module):
    """conv1 (7x7, stride 2) + bn1 + relu + maxpool (stride 2) + layer1..layerN, no fc.

    ``dilate_stages[i]`` replaces the stride 2 of layer{i+1} by dilation; (F, F, T, T) gives
    output stride 8 as in DeepLabv3. Output: (B, stage_widths[-1] * expansion, H/os, W/os).
    """

    CONV_BN_PAIRS = (("conv1", "bn1"),)

    def __init__(self, block: str, stage_blocks: Sequence[int], stage_widths: Sequence[int],
                 stem_width: int = 64, dilate_stages: Sequence[bool] | None = None) -> None:
        super().__init__()
        block_cls = BLOCKS[block]
        dilate_stages = tuple(dilate_stages or (False,) * len(stage_blocks))
        self.conv1 = nn.Conv2d(3, stem_width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self._in_channels = stem_width
        self._dilation = 1
        self.stage_names: list[str] = []
        for index, (blocks, planes, dilate) in enumerate(zip(stage_blocks, stage_widths, dilate_stages)):
            stride = 1 if index == 0 else 2
            name = f"layer{index + 1}"
            setattr(self, name, self._make_stage(block_cls, planes, blocks, stride, dilate))
            self.stage_names.append(name)
        self.out_channels = self._in_channels
        self._init_weights()

    def _make_stage(self, block_cls, planes: int, blocks: int, stride: int, dilate: bool) -> nn.Sequential:
        first_dilation = self._dilation
        if dilate:
            self._dilation *= stride
            stride = 1
        out_channels = planes * block_cls.expansion
        downsample = None
        if stride != 1 or self._in_channels != out_channels:
            downsample = nn.Sequential(conv1x1(self._in_channels, out_channels, stride),
                                       nn.BatchNorm2d(out_channels))
        layers = [block_cls(self._in_channels, planes, stride, first_dilation, downsample)]
        self._in_channels = out_channels
        layers += [block_cls(out_channels, planes, 1, self._dilation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, stem, H/4, W/4)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x


def vgg19_layer_indices() -> dict[str, int]:
    """Map ``relu{block}_{index}`` to its position in torchvision's ``vgg19().features``."""
    names: dict[str, int] = {}
    position, block, conv_in_block = 0, 1, 0
    for item in VGG19_LAYOUT:
        if item == "M":
            position += 1
            block, conv_in_block = block + 1, 0
            continue
        conv_in_block += 1
        names[f"relu{block}_{conv_in_block}"] = position + 1  # the ReLU right after the conv
        position += 2
    return names


def build_vgg19_features(last_index: int | None = None) -> nn.Sequential:
    """torchvision's ``vgg19().features`` layout, truncated after module ``last_index``."""
    layers: list[nn.Module] = []
    in_channels = 3
    for item in VGG19_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(in_channels, int(item), 3, padding=1), nn.ReLU(inplace=False)]
            in_channels = int(item)
    if last_index is not None:
        layers = layers[: last_index + 1]
    return nn.Sequential(*layers)


class VGG19FeatureExtractor(nn.Module):
    """Frozen VGG19 features: RGB in [0, 1] -> {layer name: activation}.

    The stack is cut after the deepest requested layer. ``weights_path`` (a torchvision
    ``vgg19`` file, .safetensors or .pth) gives the paper's ImageNet features; without it the
    convolutions are initialised from ``seed`` (Kaiming normal, zero bias) with a private
    generator, so the global RNG is untouched and every run gets the same features.
    """

    def __init__(self, layers: Iterable[str] = ("relu3_1", "relu4_1"),
                 weights_path: str | Path | None = None, seed: int = 0) -> None:
        super().__init__()
        indices = vgg19_layer_indices()
        self.layers = tuple(dict.fromkeys(layers))
        unknown = [name for name in self.layers if name not in indices]
        if unknown:
            raise ValueError(f"unknown VGG19 layers {unknown}; valid: {sorted(indices)}")
        self._taps = {indices[name]: name for name in self.layers}
        self.normalize = ImageNormalizer()
        self.features = build_vgg19_features(max(self._taps))
        self.pretrained = weights_path is not None
        if weights_path is None:
            self._init_random(seed)
        else:
            load_torchvision_weights(self, weights_path)
        self.requires_grad_(False)
        self.eval()

    def _init_random(self, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        for module in self.features:
            if isinstance(module, nn.Conv2d):
                with torch.no_grad():
                    nn.init.kaiming_normal_(module.weight, nonlinearity="relu", generator=generator)
                    module.bias.zero_()

    def train(self, mode: bool = True) -> "VGG19FeatureExtractor":
        """Stays in eval mode: the loss network is frozen."""
        return super().train(False)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        x = self.normalize(image)
        outputs: dict[str, Tensor] = {}
        for index, module in enumerate(self.features):
            x = module(x)
            if index in self._taps:
                outputs[self._taps[index]] = x
        return outputs


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Tensors of a .safetensors file (safetensors) or a .pth/.pt file (``weights_only=True``).

    Never unpickles arbitrary objects. A checkpoint dict nesting its weights under
    ``state_dict`` or ``model`` is unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightLoadError(f"weight file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # any parse error means the file is unusable
        raise WeightLoadError(f"cannot read weight file {path}: {error}") from error
    for wrapper in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise WeightLoadError(f"{path} does not hold a flat name -> tensor state dict")
    return dict(state)


def load_torchvision_weights(module: nn.Module, path: str | Path) -> list[str]:
    """Load a torchvision-named weight file into ``module``; returns the keys loaded.

    Keys the module does not have (``fc.*``, ``classifier.*``, deeper VGG layers) are ignored.
    A key the module has but the file lacks raises (except BatchNorm's ``num_batches_tracked``),
    as does a shape mismatch, naming the key and both shapes.
    """
    state = read_state_dict(path)
    own = module.state_dict()
    missing = [key for key in own if key not in state and not key.endswith(_OPTIONAL_KEY_SUFFIXES)]
    if missing:
        raise WeightLoadError(f"{path} lacks {len(missing)} parameters of the module, "
                              f"first: {missing[0]!r}")
    selected: dict[str, Tensor] = {}
    for key, target in own.items():
        if key not in state:
            continue
        if tuple(state[key].shape) != tuple(target.shape):
            raise WeightLoadError(f"shape mismatch for {key!r} in {path}: file "
                                  f"{tuple(state[key].shape)}, module {tuple(target.shape)}")
        selected[key] = state[key]
    module.load_state_dict(selected, strict=False)
    return sorted(selected)
