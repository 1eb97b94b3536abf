"""Fine-tuning AudioLDM's U-Net (the seed study's Table II / Figure 2): ``train(TrainConfig(...))``."""

from audiometric.ldm.train.config import TrainConfig
from audiometric.ldm.train.loop import TrainingInterrupted, train

__all__ = ["TrainConfig", "TrainingInterrupted", "train"]
