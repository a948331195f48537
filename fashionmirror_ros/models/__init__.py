"""FashionMirror networks (paper sec. 3): CMN (eq. 1-2), SFE (eq. 4), HSG (eq. 7-8), their losses
(eq. 2, 5-6, 9-11), presets, checkpoints and size/FLOP figures.

Images are RGB float (B, 3, H, W) in [0, 1]; masks (B, 1, H, W) in [0, 1]. See ``mirror`` for
the conventions (M_r, M_c, h^0 = h^s) and ``config`` for the presets ("paper", "realtime").
"""
from .backbones import ResNetBackbone, VGG19FeatureExtractor, WeightLoadError, load_torchvision_weights
from .checkpoint import CheckpointError, load_checkpoint, load_config, load_state_into, save_checkpoint
from .cmn import CoAttentionMaskNetwork
from .config import (
    PRESETS,
    CMNConfig,
    HSGConfig,
    LossConfig,
    ModelConfig,
    SFEConfig,
    get_preset,
    tiny_config,
)
from .hsg import HumanSequenceGenerator
from .info import model_info
from .losses import (
    FlowCorrectnessLoss,
    TryOnLoss,
    cmn_multi_loss,
    cmn_single_loss,
    sample_correctness_loss,
)
from .mirror import FashionMirror, GenerateOutput
from .sfe import FlowField, SkeletonFlowExtractor
from .warping import gaussian_warp, resize_flow

__all__ = [
    "PRESETS", "CMNConfig", "CheckpointError", "CoAttentionMaskNetwork", "FashionMirror",
    "FlowCorrectnessLoss", "FlowField", "GenerateOutput", "HSGConfig", "HumanSequenceGenerator",
    "LossConfig", "ModelConfig", "ResNetBackbone", "SFEConfig", "SkeletonFlowExtractor",
    "TryOnLoss", "VGG19FeatureExtractor", "WeightLoadError", "cmn_multi_loss", "cmn_single_loss",
    "gaussian_warp", "get_preset", "load_checkpoint", "load_config", "load_state_into",
    "load_torchvision_weights", "model_info", "resize_flow", "sample_correctness_loss",
    "save_checkpoint", "tiny_config",
]
