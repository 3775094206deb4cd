"""h2ot: efficient video-based 3D human pose estimation with the Hierarchical Hourglass Tokenizer."""

from h2ot.infer import Lifter, infer_video
from h2ot.lifter import PoseLifter
from h2ot.models import BACKBONES, create_model
from h2ot.pretrained import load_pretrained

__version__ = "0.1.0"

__all__ = ["BACKBONES", "Lifter", "PoseLifter", "create_model", "infer_video", "load_pretrained", "__version__"]
