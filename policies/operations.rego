# Operational actions (the mutating steps of runbooks): by the risk the runbook declares.
package shipmate.operations

import rego.v1

import data.shipmate.lib

params := input.action.params

level := object.get(input.action.risk, "level", "medium")

env := object.get(params, "environment", "production")

approvers := lib.eligible(object.get(data.org.services.approver_roles, env, ["oncall"]))

operator if lib.has_role(input.requester, "oncall")

operator if lib.has_role(input.requester, "deployer")

default decision := {
	"allow": false,
	"approvals_required": 0,
	"eligible_approvers": [],
	"mode": "execute",
	"reasons": ["No operations rule matched this action."],
	"rules": ["operations.default_deny"],
}

decision := lib.deny_doc([sprintf("%s holds neither the on-call nor the deployer role.", [input.requester.name])], ["operations.requester_not_operator"]) if {
	not operator
}

decision := lib.deny_doc([sprintf("Unknown risk level '%v' (use low, medium or high).", [level])], ["operations.unknown_risk"]) if {
	operator
	not level in {"low", "medium", "high"}
}

decision := lib.allow_doc(["Low-risk operational steps run without approval."], ["operations.low_risk_auto"], 0, []) if {
	operator
	level == "low"
}

decision := lib.allow_doc([sprintf("Medium-risk steps run without approval outside production (%s).", [env])], ["operations.medium_risk_non_prod"], 0, []) if {
	operator
	level == "medium"
	env != "production"
}

decision := lib.allow_doc([sprintf("A medium-risk step in production needs 1 approval (%s).", [concat(", ", approvers)])], ["operations.medium_risk_prod"], 1, approvers) if {
	operator
	level == "medium"
	env == "production"
}

decision := lib.allow_doc([sprintf("A high-risk step needs %d approval(s) (%s).", [high_count, concat(", ", approvers)])], ["operations.high_risk"], high_count, approvers) if {
	operator
	level == "high"
}

high_count := 2 if env == "production" else := 1
