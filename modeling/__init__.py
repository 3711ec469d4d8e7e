"""The dual encoder's configuration, model and loss (the files shipped beside every checkpoint)."""

from .configuration_rs_dual_encoder import DualEncoderConfig
from .contrastive_loss_rs_dual_encoder import DualEncoderContrastiveLoss
from .modeling_rs_dual_encoder import DualEncoderModel, DualEncoderOutput, DualEncoderPreTrainedModel

__all__ = [
    "DualEncoderConfig",
    "DualEncoderContrastiveLoss",
    "DualEncoderModel",
    "DualEncoderOutput",
    "DualEncoderPreTrainedModel",
]
