"""All models, imported here so that metadata is complete wherever models is imported."""
from .base import Base, LabeledEnum  # noqa: F401
from .reference import DICT_CATEGORIES, DictItem, Region, RegionKind  # noqa: F401
from .org import CityScope, SecondaryUnit, Unit, UnitStatus  # noqa: F401
from .accounts import MODULES, AccountStatus, LoginSession, LoginThrottle, PasswordReset, Role, User  # noqa: F401
from .people import REVIEWED_FIELDS, Gender, Person, ReviewStatus  # noqa: F401
from .audit import ACTION_LABELS, LOGIN_ACTIONS, AuditLog  # noqa: F401

# -- units, people and accounts (issue 3) --
from .registration import ChangeStatus, RegistrationRoute, UnitChange, UnitRegistration  # noqa: F401

# -- declarations and calls (issue 4) --
from .declarations import (  # noqa: F401
    DEFAULT_CHAIN, DEFAULT_QUOTA, AuthorityRoute, DEFAULT_REQUIRED, Attachment, AttachmentKind, BudgetItem, Call, CallType,
    Declaration, InnovationMode, Level, Member, ProgressReport, ProgressStatus, ReleaseStatus, ReviewRecord, Status, UnitRevenue,
)

# -- enterprises, annual reports and libraries (issue 5) --
from .enterprises import (  # noqa: F401
    REPORT_TABS,
    AnnualReport,
    CreditGrade,
    CreditRating,
    Enterprise,
    EnterpriseReview,
    EnterpriseStatus,
    InnovationVoucher,
    LibraryParam,
    ListingStatus,
    ReportStatus,
    StorageStatus,
    VoucherType,
)

# -- export jobs and imports (issue 6) --
from .exports import ExportJob, ExportStatus  # noqa: F401

# -- review records of people, registrations and progress reports (issue 10) --
from .reviews import ReviewLog  # noqa: F401

# -- ways in: outbox of notices (issue 12) --
from .messages import Channel, Message, MessageStatus  # noqa: F401

# -- 企业更名管理 (issue 14) --
from .renames import EnterpriseName, EnterpriseRename, RenameFile, RenameStatus  # noqa: F401

# -- 老项目认领 (issue 14) --
from .legacy import ClaimStatus, LegacyProject  # noqa: F401
