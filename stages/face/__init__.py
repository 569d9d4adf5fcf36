"""Face stages: load -> detect -> landmarks -> align -> embed -> classify.

Each stage is a small class with settings in ``__init__`` and one call method::

    from facespeech.stages.face import ImageLoader, HogDetector, LandmarkPredictor

    image = ImageLoader()(Path("group.jpg"))
    faces = HogDetector(upsample=1)(image)
"""

from facespeech.stages.face.align import FaceAligner
from facespeech.stages.face.classify import KnnIdentifier
from facespeech.stages.face.detect import (
    CnnDetector,
    FaceDetector,
    HaarDetector,
    HogDetector,
    make_detector,
)
from facespeech.stages.face.embed import DlibEmbedder
from facespeech.stages.face.landmarks import LandmarkPredictor, point_groups
from facespeech.stages.face.load import ImageLoader
from facespeech.stages.face.types import (
    AlignedFaces,
    Box,
    DetectedFaces,
    EmbeddedFaces,
    IdentifiedFaces,
    ImageRef,
    LandmarkedFaces,
    LoadedImage,
    Match,
)
from facespeech.stages.face.video import VideoFrameReader

__all__ = [
    "AlignedFaces",
    "Box",
    "CnnDetector",
    "DetectedFaces",
    "DlibEmbedder",
    "EmbeddedFaces",
    "FaceAligner",
    "FaceDetector",
    "HaarDetector",
    "HogDetector",
    "IdentifiedFaces",
    "ImageLoader",
    "ImageRef",
    "KnnIdentifier",
    "LandmarkPredictor",
    "LandmarkedFaces",
    "LoadedImage",
    "Match",
    "VideoFrameReader",
    "make_detector",
    "point_groups",
]
