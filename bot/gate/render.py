"""How the Gate explains itself in a reply: which rule fired, what is missing, who may approve."""

from __future__ import annotations

from bot.channel import Button, Reply, ReplyKind
from bot.gate.approvals import PendingApproval
from bot.models import Action, Decision


def _rules(decision: Decision) -> tuple[str, str]:
    return ("Rules", ", ".join(decision.rules) or "none")


def denial(action: Action, decision: Decision) -> Reply:
    reasons = " ".join(decision.reasons) or "No reason given."
    return Reply(
        kind=ReplyKind.DENIED,
        text=f"Denied by policy: {action.summary or action.name}. {reasons}",
        fields=(_rules(decision),),
    )


def allowed(action: Action, decision: Decision) -> Reply:
    why = " ".join(decision.reasons)
    return Reply(
        kind=ReplyKind.INFO, text=f"Allowed by policy. {why}".strip(), fields=(_rules(decision),)
    )


def shadow(action: Action, decision: Decision) -> Reply:
    return Reply(
        kind=ReplyKind.INFO,
        text=f"Shadow mode: recorded that shipmate would run {action.summary or action.name};"
        " nothing was changed.",
        fields=(_rules(decision),),
    )


def approval_request(approval: PendingApproval) -> Reply:
    decision, action = approval.decision, approval.action
    who = ", ".join(decision.eligible_approvers) or "nobody is eligible right now"
    return Reply(
        kind=ReplyKind.APPROVAL,
        text=(
            f"Approval needed ({approval.required} of {approval.required}) for "
            f"{action.summary or action.name}, requested by {action.requester.name}."
        ),
        fields=(
            ("Why", " ".join(decision.reasons)),
            ("Who can approve", who),
            ("Expires", approval.expires_at.strftime("%Y-%m-%d %H:%M UTC")),
            ("Approval id", approval.id),
            _rules(decision),
        ),
        buttons=(
            Button(label="Approve", action="approve", value=approval.id, style="primary"),
            Button(label="Deny", action="deny", value=approval.id, style="danger"),
        ),
    )


def approval_closed(approval: PendingApproval, text: str, kind: ReplyKind) -> Reply:
    """The approval message, updated in place once decided (buttons gone)."""
    action = approval.action
    return Reply(
        kind=kind,
        text=f"{action.summary or action.name}: {text}",
        fields=(("Approval id", approval.id),),
    )
