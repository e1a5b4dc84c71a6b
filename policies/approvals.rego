# Who may approve a pending action: re-checked on every approval, against current data.
# Input: {action, requester, approver, decision, now}.
package shipmate.approvals

import rego.v1

import data.shipmate.lib

env := object.get(input.action.params, "environment", "production")

roles := object.get(data.org.services.approver_roles, env, ["oncall"])

problems contains {"rule": "approvals.no_self_approval", "reason": "The requester cannot approve their own action."} if {
	input.approver.name == input.requester.name
}

problems contains {"rule": "approvals.role_required", "reason": msg} if {
	count({r | some r in input.approver.roles; r in roles}) == 0
	msg := sprintf("%s holds none of the roles that may approve in %s (%s).", [input.approver.name, env, concat(", ", roles)])
}

problems contains {"rule": "approvals.unknown_user", "reason": msg} if {
	not data.org.team.users[input.approver.name]
	msg := sprintf("%s is not in the team directory.", [input.approver.name])
}

eligibility := {
	"eligible": count(problems) == 0,
	"reasons": sort([p.reason | some p in problems]),
	"rules": sort([p.rule | some p in problems]),
	"eligible_approvers": lib.eligible(roles),
}
