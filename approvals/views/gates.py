"""Gate and lifecycle pages: the review queue, the review page and its actions, asking for a
gate (with its preflight), moving a use case without a gate, and the CoE lead's gate policies
and lifecycle. Thin callers of approvals.services.gates and approvals.services.lifecycle."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from approvals.forms.gates import (
    CommentForm,
    DecisionForm,
    GatePolicyForm,
    GateRequestForm,
    ReasonForm,
    StageForm,
    StageMoveForm,
    TransitionForm,
)
from approvals.models import ApprovalComment, ApprovalRequest, GatePolicy, LifecycleStage, LifecycleTransition
from approvals.policies import may_move_stage, may_request_gate, may_view_coe_metrics
from approvals.selectors.gates import (
    QUEUE_VIEWS,
    REQUEST_RELATED,
    gate_policies_visible_to,
    queue_counts,
    requests_for_use_case,
    review_context,
    review_queue,
)
from approvals.selectors.lifecycle import gated_moves
from approvals.selectors.preflight import gate_preflight
from approvals.services import gate_policies, gates, lifecycle
from inventory.choices import RiskTierChoices
from inventory.selectors.usecases import use_case_for
from portal.forms import add_service_errors
from portal.permissions import Action, can_add, get_restricted_object_or_404, restrict
from portal.views.generic import object_to_edit, service_delete_view, service_edit_view, service_error_message


def _request_or_404(request, pk: int, action: str = Action.VIEW) -> ApprovalRequest:
    return get_restricted_object_or_404(
        ApprovalRequest.objects.select_related(*REQUEST_RELATED, "policy"),
        request.user,
        action,
        pk=pk,
    )


#
# The queue and the review page
#


@login_required
def gate_queue(request):
    view = request.GET.get("view", "mine")
    if view not in dict(QUEUE_VIEWS):
        view = "mine"
    tier = request.GET.get("tier", "")
    return render(
        request,
        "approvals/gate_queue.html",
        {
            "rows": review_queue(user=request.user, view=view, tier=tier),
            "view": view,
            "views": QUEUE_VIEWS,
            "tier": tier,
            "tiers": RiskTierChoices.pairs(),
            "counts": queue_counts(user=request.user),
            "may_view_metrics": may_view_coe_metrics(request.user),
        },
    )


def _allows_conditions(gate_request: ApprovalRequest) -> bool:
    return gate_request.snapshot.get("policy", {}).get("allows_conditions", True)


def _review_page(request, gate_request: ApprovalRequest, *, decision_form: DecisionForm | None = None):
    context = review_context(user=request.user, request=gate_request)
    context["decision_form"] = decision_form or DecisionForm(
        allows_conditions=_allows_conditions(gate_request)
    )
    context["comment_form"] = CommentForm()
    context["reason_form"] = ReasonForm()
    return render(request, "approvals/gate_review.html", context)


@login_required
def request_detail(request, pk: int):
    return _review_page(request, _request_or_404(request, pk))


def _back(gate_request):
    return redirect(gate_request.get_absolute_url())


@login_required
@require_POST
def request_decide(request, pk: int):
    gate_request = _request_or_404(request, pk, "custom:decide")
    form = DecisionForm(request.POST, allows_conditions=_allows_conditions(gate_request))
    if form.is_valid():
        try:
            gates.approval_request_decide(
                request=gate_request,
                actor=request.user,
                decision=form.cleaned_data["decision"],
                comment=form.cleaned_data.get("comment", ""),
                conditions=form.cleaned_data.get("conditions", ""),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            gate_request.refresh_from_db()
            messages.success(
                request,
                f"Decision recorded. {gate_request.reference} is {gate_request.status_label.lower()}.",
            )
            return _back(gate_request)
    # Shown again, not redirected: the reviewer keeps the outcome and text they chose and reads
    # each error at the field it concerns (a redirect would drop both for a banner).
    return _review_page(request, gate_request, decision_form=form)


@login_required
@require_POST
def request_comment(request, pk: int):
    gate_request = _request_or_404(request, pk, "custom:comment")
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write something to comment.")
        return _back(gate_request)
    parent = None
    if form.cleaned_data.get("parent"):
        parent = ApprovalComment.objects.filter(request=gate_request, pk=form.cleaned_data["parent"]).first()
    try:
        gates.approval_request_comment(
            request=gate_request, actor=request.user, body=form.cleaned_data["body"], parent=parent
        )
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
    return redirect(gate_request.get_absolute_url() + "#discussion")


@login_required
@require_POST
def request_withdraw(request, pk: int):
    gate_request = _request_or_404(request, pk, "custom:withdraw")
    try:
        gates.approval_request_withdraw(
            request=gate_request, actor=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
    else:
        messages.success(request, f"{gate_request.reference} withdrawn.")
    return _back(gate_request)


@login_required
@require_POST
def request_resubmit(request, pk: int):
    gate_request = _request_or_404(request, pk, "custom:resubmit")
    release = None
    if request.POST.get("release"):
        release = gate_request.use_case.releases.filter(pk=request.POST["release"]).first()
    try:
        gates.approval_request_resubmit(
            request=gate_request, actor=request.user, summary=request.POST.get("summary", ""), release=release
        )
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
    else:
        messages.success(request, f"{gate_request.reference} resubmitted for a new round of decisions.")
    return _back(gate_request)


@login_required
@require_POST
def request_revoke(request, pk: int):
    gate_request = _request_or_404(request, pk, "custom:revoke")
    try:
        gates.approval_request_revoke(
            request=gate_request, actor=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
    else:
        messages.success(
            request,
            f"{gate_request.reference} revoked: it no longer covers release {gate_request.release.version}.",
        )
    return _back(gate_request)


@login_required
@require_POST
def request_recertify(request, pk: int):
    gate_request = _request_or_404(request, pk, "custom:recertify")
    try:
        renewal = gates.approval_request_recertify(request=gate_request, actor=request.user)
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
        return _back(gate_request)
    messages.success(request, f"{renewal.reference} asks to re-certify {gate_request.reference}.")
    return redirect(renewal.get_absolute_url())


#
# Asking for a gate, and moving without one
#


@login_required
def request_new(request, key: str):
    """Choose the target stage and release, see the preflight, submit."""
    use_case = use_case_for(user=request.user, key=key)
    if not may_request_gate(request.user, use_case):
        raise PermissionDenied("The owning team asks for its use case's gates.")
    data = (
        request.POST if request.method == "POST" else (request.GET if request.GET.get("to_stage") else None)
    )
    form = GateRequestForm(data, use_case=use_case)
    preflight = None
    if data is not None and form.is_valid():
        preflight = gate_preflight(
            use_case=use_case, release=form.cleaned_data["release"], to_stage=form.cleaned_data["to_stage"]
        )
        # "Check what is missing" posts too (no CSRF token in a URL) but only runs the preflight.
        if request.method == "POST" and request.POST.get("action") != "check" and preflight.ok:
            try:
                gate_request = gates.approval_request_submit(
                    use_case=use_case,
                    release=form.cleaned_data["release"],
                    to_stage=form.cleaned_data["to_stage"],
                    actor=request.user,
                    summary=form.cleaned_data["summary"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{gate_request.reference} submitted; reviewers are notified.")
                return redirect(gate_request.get_absolute_url())
    # Said outright: after "Submit" the page would otherwise look just as after "Check", and
    # the person could not tell that nothing was submitted.
    submit_refused = request.method == "POST" and request.POST.get("action") != "check"
    return render(request, "approvals/gate_request_form.html", {"form": form, "use_case": use_case,
                                                                 "preflight": preflight,
                                                                 "submit_refused": submit_refused})  # fmt: skip


@login_required
@require_POST
def stage_move(request, key: str):
    use_case = use_case_for(user=request.user, key=key)
    if not may_move_stage(request.user, use_case):
        raise PermissionDenied("The owning team and the CoE move a use case between stages.")
    form = StageMoveForm(request.POST, use_case=use_case)
    tab = use_case.get_absolute_url() + "?tab=approvals"
    if not form.is_valid():
        messages.error(request, "Choose a stage the use case can move to without a gate.")
        return redirect(tab)
    stage = LifecycleStage.objects.get(key=form.cleaned_data["to_stage"])
    try:
        gates.lifecycle_move(
            use_case=use_case, to_stage=stage, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
    else:
        messages.success(request, f"{use_case.key} moved to {stage.label}.")
    return redirect(tab)


def approvals_tab(*, user, use_case) -> dict:
    """The use case's "Approvals" tab: its requests, and what the person may start from here."""

    return {
        "gate_requests": requests_for_use_case(user=user, use_case=use_case),
        "may_request_gate": may_request_gate(user, use_case) and bool(gated_moves(use_case)),
        "stage_move_form": StageMoveForm(use_case=use_case) if may_move_stage(user, use_case) else None,
    }


#
# Gate policies (the CoE lead)
#


@login_required
def policy_list(request):
    return render(
        request,
        "approvals/gate_policies.html",
        {
            "policies": list(gate_policies_visible_to(request.user)),
            "may_add": can_add(request.user, GatePolicy),
        },
    )


@login_required
def policy_edit(request, pk: int | None = None):
    policy = object_to_edit(
        request, GatePolicy.objects.all(), refusal="The CoE lead maintains gate policies.", pk=pk
    )
    form = GatePolicyForm(request.POST if request.method == "POST" else None, policy=policy)

    def save(data):
        return gate_policies.gate_policy_save(
            actor=request.user,
            policy=policy,
            transition=data["transition"],
            risk_tier=data["risk_tier"] or GatePolicy.ANY_TIER,
            requirements=form.requirements(),
            **form.values(),
        )

    return service_edit_view(
        request,
        form=form,
        save=save,
        template="approvals/gate_policy_form.html",
        context={"policy": policy},
        success_url="approvals:gate-policy-list",
        success_message=lambda saved: f"Gate policy {saved} saved.",
    )


@login_required
def policy_delete(request, pk: int):
    return service_delete_view(
        request,
        GatePolicy.objects.all(),
        pk=pk,
        delete=lambda policy: gate_policies.gate_policy_delete(policy=policy, actor=request.user),
        success_url="approvals:gate-policy-list",
        success_message=lambda policy: f"Gate policy {policy} deleted.",
    )


#
# The lifecycle (the CoE lead)
#


@login_required
def lifecycle_overview(request):
    stages = restrict(LifecycleStage.objects.all(), request.user)
    transitions = restrict(LifecycleTransition.objects.select_related("from_stage", "to_stage"), request.user)
    return render(
        request,
        "approvals/lifecycle.html",
        {
            "stages": stages,
            "transitions": transitions,
            "may_edit": can_add(request.user, LifecycleStage),
        },
    )


@login_required
def stage_edit(request, key: str | None = None):
    stage = object_to_edit(
        request, LifecycleStage.objects.all(), refusal="The CoE lead maintains the lifecycle.", key=key
    )
    form = StageForm(request.POST if request.method == "POST" else None, stage=stage)

    def save(data):
        if stage is None:
            return lifecycle.stage_create(actor=request.user, **data)
        data.pop("key")
        lifecycle.stage_update(stage=stage, actor=request.user, **data)
        return stage

    return service_edit_view(
        request,
        form=form,
        save=save,
        template="approvals/lifecycle_form.html",
        context={"object": stage, "what": "stage"},
        success_url="approvals:lifecycle",
        success_message=lambda saved: f"Stage “{saved.label}” saved.",
    )


@login_required
def stage_delete(request, key: str):
    return service_delete_view(
        request,
        LifecycleStage.objects.all(),
        key=key,
        delete=lambda stage: lifecycle.stage_delete(stage=stage, actor=request.user),
        success_url="approvals:lifecycle",
        success_message=lambda stage: f"Stage “{stage.label}” deleted.",
        cancel_url="approvals:lifecycle",
    )


@login_required
def transition_edit(request, pk: int | None = None):
    transition = object_to_edit(
        request,
        LifecycleTransition.objects.select_related("from_stage", "to_stage"),
        refusal="The CoE lead maintains the lifecycle.",
        pk=pk,
    )
    form = TransitionForm(request.POST if request.method == "POST" else None, transition=transition)

    def save(data):
        if transition is None:
            return lifecycle.transition_create(
                actor=request.user,
                from_stage=data["from_stage"],
                to_stage=data["to_stage"],
                requires_gate=data["requires_gate"],
            )
        lifecycle.transition_update(
            transition=transition, actor=request.user, requires_gate=data["requires_gate"]
        )
        return transition

    return service_edit_view(
        request,
        form=form,
        save=save,
        template="approvals/lifecycle_form.html",
        context={"object": transition, "what": "transition"},
        success_url="approvals:lifecycle",
        success_message=lambda saved: f"Transition {saved} saved.",
    )


@login_required
def transition_delete(request, pk: int):
    return service_delete_view(
        request,
        LifecycleTransition.objects.all(),
        pk=pk,
        delete=lambda transition: lifecycle.transition_delete(transition=transition, actor=request.user),
        success_url="approvals:lifecycle",
        success_message=lambda transition: f"Transition {transition} deleted.",
        cancel_url="approvals:lifecycle",
    )
