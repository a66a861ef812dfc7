"""Role sets used by the views' role gates, named as the design's scope table reads."""
from models import Role

ALL = frozenset(Role)
EVERYTHING = frozenset({Role.bureau, Role.sysadmin})
ADMINS = frozenset({Role.sysadmin})
UNIT_SIDE = frozenset({Role.unit_admin, Role.dept_admin})
REVIEWERS = frozenset({Role.dept_admin, Role.unit_admin, Role.authority, Role.bureau})
