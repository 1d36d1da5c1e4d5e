"""Where each form stands in the round: one FormState per form, from what a report knows.

The facts (RoundFacts: who was expected, the latest return of each form and the versions it supersedes,
the unreadable files attributed to a department) come from the report run; the store adds the
reviewers' decisions and the packages sent back. `form_lines` turns them into one FormLine per form:
the report's 汇总, 按部门 and 审核 sheets, `xlform status` and `xlform remind` all read these lines,
so a form has the same status everywhere. The report keeps its facts in the store (Store.set_round),
so `status` and `remind` need neither the inbox nor the roster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .decisions import Decision, Package, Verdict
from .status import FormState

# A 中 grade goes back to the department and is reviewed again (财预〔2015〕88号).
RETURNED_GRADE = "中"
# What a department must do something about (`xlform remind`, the end of `report`), most urgent first.
TO_ACT = (FormState.MISSING, FormState.UNREADABLE, FormState.FIX, FormState.RETURNED)

V = TypeVar("V")


def project_chains(versions: Sequence[V], project: Callable[[V], str]) -> list[list[V]]:
    """One form's versions (oldest first) as the chains in which each supersedes the one before: the report,
    feedback, review and carry-over all take a form's latest return(s) from these. A workbook copied for another
    project starts a chain of its own (neither replaces the other); a version with no project name yet continues
    the chain before it, and unnamed versions before any named one belong to the first project."""
    chains: dict[str, list[V]] = {}
    current = ""
    for v in versions:
        current = project(v).strip() or current
        chains.setdefault(current, []).append(v)
    if "" in chains and len(chains) > 1:  # all of them came before the first named version: still oldest first
        unnamed = chains.pop("")
        first = next(iter(chains))
        chains[first] = [*unnamed, *chains[first]]
    return list(chains.values())


# Version and FormLine are plain (not frozen) dataclasses: a round holds one of each per form, built 10,000 at a
# time on every report and status, and a frozen dataclass takes 3.5 times as long to make.
@dataclass
class Version:
    """The latest return of one form."""

    form_id: str
    item_key: str  # which version (the store's returns.item_key): a decision holds for it alone
    department: str
    project: str
    errors: int
    warnings: int
    file: str
    received: str  # ISO seconds
    earlier: tuple[str, ...] = ()  # item keys of the versions it supersedes, oldest first


@dataclass(frozen=True)
class Awaited:
    """A department forms are expected from, with whom to call."""

    name: str
    code: str = ""
    contact: str = ""
    phone: str = ""
    count: int | None = None  # forms expected; None when nobody said
    form_ids: tuple[str, ...] = ()  # issued to it (manifest)
    listed: bool = True  # on the roster / manifest


@dataclass(frozen=True)
class UnreadFile:
    file: str
    reason: str
    department: str = ""  # attributed by file name, folder or manifest ("" when nobody can tell)
    form_id: str = ""


@dataclass(frozen=True)
class RoundFacts:
    departments: tuple[Awaited, ...] = ()
    returns: tuple[Version, ...] = ()
    unread: tuple[UnreadFile, ...] = ()
    # When the newest file that report saw was received: what its knowledge reaches up to. Not the time the
    # report ran, so the store holds the same whichever run wrote it (an interrupted one run again, two at once).
    newest: str = ""
    expected_known: bool = False  # a roster or manifest said who is expected

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every value (seconds for a round of 10,000 returns).
        return {"departments": [vars(d) for d in self.departments], "returns": [vars(v) for v in self.returns],
                "unread": [vars(u) for u in self.unread], "newest": self.newest, "expected_known": self.expected_known}

    @classmethod
    def stored(cls, data: Mapping[str, Any] | None) -> RoundFacts | None:
        """The facts a store kept, or None when it kept none or another version wrote them in another shape."""
        try:
            return cls.from_json(data) if data is not None else None
        except (TypeError, ValueError, AttributeError):
            return None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoundFacts:
        return cls(
            tuple(Awaited(**{**d, "form_ids": tuple(d.get("form_ids", ()))}) for d in data.get("departments", ())),
            tuple(Version(**{**v, "earlier": tuple(v.get("earlier", ()))}) for v in data.get("returns", ())),
            tuple(UnreadFile(**u) for u in data.get("unread", ())),
            str(data.get("newest", "")), bool(data.get("expected_known", False)))


@dataclass
class FormLine:
    """One form's place in the round."""

    state: FormState
    department: str
    project: str = ""
    form_id: str = ""
    item_key: str = ""
    errors: int = 0
    warnings: int = 0
    file: str = ""
    received: str = ""
    reason: str = ""  # why its file could not be read
    decision: Decision | None = None  # the one holding for this version


Decisions = Mapping[tuple[str, str], Decision]


def sent_back(decision: Decision | None) -> bool:
    """A decision that sends the version back: 退回修改, or a 中 grade."""
    return decision is not None and (decision.verdict is Verdict.RETURN or decision.grade == RETURNED_GRADE)


def form_state(v: Version, decisions: Decisions, packages: Iterable[Package] = ()) -> FormState:
    """The state of a form whose latest version is `v`."""
    return _state(v, decisions, {(p.form_id, p.item_key) for p in packages})


def _state(v: Version, decisions: Decisions, packed: set[tuple[str, str]]) -> FormState:
    decided = decisions.get((v.form_id, v.item_key))
    if sent_back(decided) or (v.form_id, v.item_key) in packed:
        return FormState.RETURNED
    if decided is not None:
        return FormState.REJECTED if decided.verdict is Verdict.REJECT else FormState.PASSED
    if any(sent_back(decisions.get((v.form_id, k))) or (v.form_id, k) in packed for k in v.earlier):
        return FormState.RESUBMITTED
    return FormState.FIX if v.errors else FormState.PENDING


def form_lines(facts: RoundFacts, decisions: Decisions, packages: Iterable[Package] = ()) -> list[FormLine]:
    """Every form of the round: each latest return with its state, then what is still missing (an unreadable
    file attributed to a department standing in for one of its missing forms), department by department in
    the order the facts list them."""
    packed = {(p.form_id, p.item_key) for p in packages}
    by_department: dict[str, list[FormLine]] = {d.name: [] for d in facts.departments}
    for v in facts.returns:
        by_department.setdefault(v.department, []).append(FormLine(
            _state(v, decisions, packed), v.department, v.project, v.form_id, v.item_key, v.errors, v.warnings,
            v.file, v.received, decision=decisions.get((v.form_id, v.item_key))))
    unread: dict[str, list[UnreadFile]] = {}
    for u in facts.unread:
        if u.department:
            unread.setdefault(u.department, []).append(u)
    awaited = {d.name: d for d in facts.departments}
    for name, lines in by_department.items():
        d = awaited.get(name)
        returned = {line.form_id for line in lines}
        missing_ids = [f for f in d.form_ids if f not in returned] if d is not None else []
        slots = max(len(missing_ids), (d.count or 0) - len(lines)) if d is not None else 0
        files = unread.pop(name, [])
        for i in range(slots):
            form_id = missing_ids[i] if i < len(missing_ids) else ""
            found: UnreadFile | None = next((f for f in files if f.form_id and f.form_id == form_id), None) \
                or next((f for f in files if not f.form_id or f.form_id not in returned), None)
            if found is not None:
                files.remove(found)
                lines.append(FormLine(FormState.UNREADABLE, name, form_id=form_id or found.form_id, file=found.file,
                                      reason=found.reason))
            else:
                lines.append(FormLine(FormState.MISSING, name, form_id=form_id))
        if d is None or d.count is None:  # nobody said how many: each file that failed is a form not in
            lines += [FormLine(FormState.UNREADABLE, name, form_id=u.form_id, file=u.file, reason=u.reason)
                      for u in files if not u.form_id or u.form_id not in returned]  # not one of a form read
    for name, files in unread.items():  # a department the report knew nothing else of
        by_department[name] = [FormLine(FormState.UNREADABLE, name, form_id=u.form_id, file=u.file, reason=u.reason)
                               for u in files]
    return [line for lines in by_department.values() for line in lines]


def state_counts(lines: Iterable[FormLine]) -> dict[FormState, int]:
    """How many forms stand in each state, in FormState's order (states no form is in left out)."""
    found: dict[FormState, int] = {}
    for line in lines:
        found[line.state] = found.get(line.state, 0) + 1
    return {s: found[s] for s in FormState if s in found}


def counts_text(lines: Iterable[FormLine]) -> str:
    """"通过 2；已退回 1": a department's forms by state, for 按部门."""
    return "；".join(f"{state} {n}" for state, n in state_counts(lines).items())


@dataclass
class Chase:
    """One department that must act, and what for (`xlform remind`)."""

    department: Awaited
    lines: list[FormLine] = field(default_factory=list)


def chases_json(chases: list[Chase]) -> list[Any]:
    """Who must act, in JSON (a report kept unchanged says it again without working out the round): each
    department, and its lines without their decisions (chases_from_json looks them up again)."""
    return [[vars(c.department), [[line.state.value, line.department, line.project, line.form_id, line.item_key,
                                   line.errors, line.warnings, line.file, line.received, line.reason,
                                   line.decision is not None] for line in c.lines]] for c in chases]


def chases_from_json(data: Any, decisions: Decisions) -> list[Chase]:
    """chases_json read back, with the decisions as recorded now; ValueError, TypeError… for another shape."""
    chases = []
    for department, lines in data:
        chase = Chase(Awaited(**{**department, "form_ids": tuple(department.get("form_ids", ()))}))
        for state, *values, decided in lines:
            line = FormLine(FormState(state), *values)
            line.decision = decisions.get((line.form_id, line.item_key)) if decided else None
            chase.lines.append(line)
        chases.append(chase)
    return chases


def who_must_act(facts: RoundFacts, lines: Iterable[FormLine]) -> list[Chase]:
    """Departments with a form missing, unreadable, to fix or sent back, in the facts' order."""
    awaited = {d.name: d for d in facts.departments}
    out: dict[str, Chase] = {}
    for line in lines:
        if line.state in TO_ACT:
            chase = out.setdefault(line.department, Chase(awaited.get(line.department) or Awaited(line.department)))
            chase.lines.append(line)
    for chase in out.values():
        chase.lines.sort(key=lambda line: TO_ACT.index(line.state))
    return list(out.values())
