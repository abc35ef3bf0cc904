"""Muscle masks on the quantitative maps' grids, and ROI statistics (chapter 5).

- :func:`transfer_labels`: carry a label volume from the T2-weighted grid onto the PDFF or T2
  grid through world coordinates (shape-based interpolation between slabs; target slices the
  source does not cover are excluded and reported).
- :func:`erode_labels`: in-plane erosion to keep fascia and partial-volume voxels out.
- :func:`check_same_grid` / :class:`GridMismatchError`: a mask used on a map of another grid
  is an error naming both grids.
- :func:`roi_statistics`: mean, median, SD, voxel count per subject × reader × muscle × side ×
  map as a tidy table, the biopsied muscle and its contralateral twin flagged.
"""

from .erosion import disk_footprint, erode_labels
from .geometry import (AFFINE_TOLERANCE_MM, GridMismatchError, check_same_grid,
                       grid_from_image)
from .roi import MAP_UNITS, ROI_COLUMNS, roi_statistics, write_roi_table
from .transfer import METHODS, LabelTransfer, signed_distance_2d, transfer_labels

__all__ = ["transfer_labels", "LabelTransfer", "METHODS", "signed_distance_2d",
           "erode_labels", "disk_footprint", "GridMismatchError", "check_same_grid",
           "grid_from_image", "AFFINE_TOLERANCE_MM", "roi_statistics", "write_roi_table",
           "MAP_UNITS", "ROI_COLUMNS"]
from .session import MaskSession, MaskSessionError  # noqa: E402  (mask QA)
__all__ += ["MaskSession", "MaskSessionError"]
