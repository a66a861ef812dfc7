"""All models, imported here so that metadata is complete wherever models is imported."""
from .base import Base, LabeledEnum  # noqa: F401
from .reference import DICT_CATEGORIES, DictItem, Region, RegionKind  # noqa: F401
from .org import CityScope, SecondaryUnit, Unit, UnitStatus  # noqa: F401
from .accounts import LoginThrottle, Role, User  # noqa: F401
from .people import REVIEWED_FIELDS, Gender, Person, ReviewStatus  # noqa: F401
from .audit import ACTION_LABELS, LOGIN_ACTIONS, AuditLog  # noqa: F401

# -- declarations and calls (issue 4) --

# -- enterprises, annual reports and libraries (issue 5) --

# -- export jobs and imports (issue 6) --
from .exports import ExportJob, ExportStatus  # noqa: F401
