"""Fine-tuning AudioLDM's U-Net (the seed study's Table II / Figure 2): ``train(TrainConfig(...))``."""

from .config import TrainConfig
from .loop import TrainingInterrupted, train

__all__ = ["TrainConfig", "TrainingInterrupted", "train"]
