"""The project view's JSON form is exact: every field of every stage and task survives the round trip."""

from __future__ import annotations

import json

from domain.parallel.codec import view_from_json, view_to_json
from domain.parallel.scenario import drive, generate
from domain.parallel.steps import STAFF_STEPS, STEPS, GiveOpinion, spec_for
from domain.staff import default_staff


def test_views_of_every_kind_round_trip_exactly() -> None:
    records = generate()
    picked = records[:3] + [r for r in records if r.stages[-1].corrections][:3] + records[-30:-25]
    for r in picked:
        view = drive(r).view()
        text = view_to_json(view)
        assert view_from_json(text) == view
        assert isinstance(json.loads(text)["investment_fen"], int)  # money stays integer fen


def test_the_registry_names_every_step_and_only_staff_steps_are_updates() -> None:
    assert {s.value for s in STAFF_STEPS} == {"accept_stage", "opinion", "supplement", "decide"}
    assert spec_for("opinion", staff_only=True).request is GiveOpinion
    assert all(spec.request.step is step for step, spec in STEPS.items())
    actor = default_staff().get("513221-fg-a")
    req = GiveOpinion(actor=actor, stage=" land_use_planning ", department="汶川县发展和改革局", opinion="agree")
    assert req.stage == "land_use_planning"  # normalised, not judged
    for name in ("silence", "reform_warning", "nonsense"):
        try:
            spec_for(name, staff_only=True)
        except Exception as e:
            assert getattr(e, "code", "") == "PROJECT_FIELD_INVALID"
        else:
            raise AssertionError(name)
