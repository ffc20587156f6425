"""Refusals of parallel approval (并联审批). Each has a stable ``PROJECT_*`` code and a Chinese message.

They register themselves with ``domain.errors`` (``DomainError.__init_subclass__``), so a refusal that
crossed Temporal (code and message only) is rebuilt as the same type on the other side.
"""

from __future__ import annotations

from domain.errors import DomainError


class ProjectCodeInvalid(DomainError):
    """The national project code (全国投资项目在线审批监管平台代码) is malformed or names another region."""

    code = "PROJECT_CODE_INVALID"


class InvestmentInvalid(DomainError):
    """Total investment that is negative, not a plain decimal number in 元, or finer than one fen."""

    code = "PROJECT_INVESTMENT_INVALID"


class ProjectFieldInvalid(DomainError):
    """Name, owner, level or region missing or inconsistent."""

    code = "PROJECT_FIELD_INVALID"


class ProjectPlanInvalid(DomainError):
    """The stage plan (stages, lead and participating departments, matters, time limits) is not usable."""

    code = "PROJECT_PLAN_INVALID"


class ProjectClosed(DomainError):
    """The project was denied or completed: nothing more happens to it."""

    code = "PROJECT_CLOSED"


class StageOutOfOrder(DomainError):
    """A stage opened before the previous one was approved, or opened twice."""

    code = "PROJECT_STAGE_OUT_OF_ORDER"


class StageNotOpen(DomainError):
    """A step on a stage that has not been accepted yet."""

    code = "PROJECT_STAGE_NOT_OPEN"


class StageAlreadyDecided(DomainError):
    """A step on a stage that the lead department has already decided."""

    code = "PROJECT_STAGE_DECIDED"


class StageSuspended(DomainError):
    """The applicant is supplementing materials; the stage clock stands still and no review step is taken."""

    code = "PROJECT_STAGE_SUSPENDED"


class DepartmentNotInStage(DomainError):
    """An opinion (or a silence) of a department that does not take part in the stage."""

    code = "PROJECT_DEPARTMENT_NOT_IN_STAGE"


class OpinionAlreadyGiven(DomainError):
    """A second opinion from the same department in the same stage."""

    code = "PROJECT_OPINION_DUPLICATE"


class OpinionInvalid(DomainError):
    """An opinion without what it must carry (conditions, reason, missing materials) or of an unknown kind."""

    code = "PROJECT_OPINION_INVALID"


class CorrectionRefused(DomainError):
    """A correction request or supplement that would break the cross-department 一次性告知 rule."""

    code = "PROJECT_CORRECTION_REFUSED"


class OpinionsPending(DomainError):
    """The lead tried to decide a stage before every department's opinion is in."""

    code = "PROJECT_OPINIONS_PENDING"


class DecisionInvalid(DomainError):
    """A stage decision that the opinions do not allow (approval over a disagreement without a permitted override)."""

    code = "PROJECT_DECISION_INVALID"


class TimerNotDue(DomainError):
    """A timer step (silence, reform-target warning or overdue) before its moment, or already taken."""

    code = "PROJECT_TIMER_NOT_DUE"


class ProjectNotFound(DomainError):
    """No project with this code has been registered."""

    code = "PROJECT_NOT_FOUND"


class ProjectAlreadyExists(DomainError):
    """A project code is registered once: the code is the project's lifetime id."""

    code = "PROJECT_ALREADY_EXISTS"
