# Deploys, rollbacks and progressive delivery: who may change which service where, when, and
# with whose approval. High-risk production changes need two people.
package shipmate.deploy

import rego.v1

import data.shipmate.lib

params := input.action.params

risk := input.action.risk

name := input.action.name

service := data.org.services.services[params.service]

now_ns := time.parse_rfc3339_ns(input.now)

is_rollout if name == "deploy.rollout"

# Remediation: undoing a change. Stays allowed during a freeze.
is_remediation if name in {"deploy.rollback", "deploy.abort"}

is_control if name in {"deploy.promote", "deploy.pause", "deploy.resume", "deploy.set_weight"}

# shipmate's own automatic rollback or abort (a failing verdict, an SLO breach) is always allowed.
# Only shipmate itself can claim it: a person's request that says "automatic" is judged as theirs.
automatic if {
	is_remediation
	object.get(risk, "automatic", false) == true
	input.requester.name == "shipmate"
}

operator if lib.has_role(input.requester, "deployer")

operator if lib.has_role(input.requester, "oncall")

violations contains {"rule": "deploy.unknown_service", "reason": msg} if {
	not data.org.services.services[params.service]
	msg := sprintf("'%s' is not in the service catalog, so no one may deploy it.", [params.service])
}

violations contains {"rule": "deploy.unknown_environment", "reason": msg} if {
	service.environments
	not params.environment in service.environments
	msg := sprintf("%s has no %s environment (it runs in %s).", [params.service, params.environment, concat(", ", service.environments)])
}

violations contains {"rule": "deploy.requester_not_deployer", "reason": msg} if {
	is_rollout
	not lib.has_role(input.requester, "deployer")
	msg := sprintf("%s does not hold the deployer role.", [input.requester.name])
}

violations contains {"rule": "deploy.requester_cannot_rollback", "reason": msg} if {
	is_remediation
	not automatic
	not operator
	msg := sprintf("%s holds neither the deployer nor the on-call role.", [input.requester.name])
}

violations contains {"rule": "deploy.requester_cannot_steer", "reason": msg} if {
	is_control
	not operator
	msg := sprintf("%s holds neither the deployer nor the on-call role, so cannot steer a rollout.", [input.requester.name])
}

violations contains {"rule": "deploy.freeze_window", "reason": msg} if {
	is_rollout
	some w in data.org.freeze.windows
	params.environment in w.environments
	frozen_service(w)
	now_ns >= time.parse_rfc3339_ns(w.start)
	now_ns < time.parse_rfc3339_ns(w.end)
	msg := sprintf("%s is inside change freeze %s (%s to %s): %s.", [params.environment, w.id, w.start, w.end, w.reason])
}

violations contains {"rule": "deploy.promote_failing_canary", "reason": msg} if {
	name == "deploy.promote"
	object.get(params, "verdict", "") == "fail"
	msg := "The canary was judged failing; abort it instead of promoting."
}

violations contains {"rule": "deploy.canary_first_step_too_large", "reason": msg} if {
	name == "deploy.set_weight"
	params.environment == "production"
	object.get(params, "first_step", false) == true
	limit := data.org.rollouts.max_first_step[sprintf("%d", [service.tier])]
	params.weight > limit
	msg := sprintf("A first canary step of %d%% is above the %d%% allowed for a tier-%d service in production.", [params.weight, limit, service.tier])
}

violations contains {"rule": "deploy.canary_weight_out_of_range", "reason": msg} if {
	name == "deploy.set_weight"
	not valid_weight
	msg := sprintf("A canary weight must be a whole percentage from 1 to 100, not %v.", [object.get(params, "weight", null)])
}

valid_weight if {
	is_number(params.weight)
	params.weight >= 1
	params.weight <= 100
	params.weight == round(params.weight)
}

frozen_service(w) if "*" in w.services

frozen_service(w) if params.service in w.services

# What makes a production change high risk (two-person approval).
thresholds := data.org.autonomy.high_risk

high_risk_reasons contains msg if {
	lines := object.get(risk, "change_lines", 0)
	lines > thresholds.change_lines
	msg := sprintf("a large change (%d lines)", [lines])
}

high_risk_reasons contains msg if {
	failures := object.get(risk, "recent_failures", 0)
	failures >= thresholds.recent_failures
	msg := sprintf("%d recent failed deploys of this service", [failures])
}

high_risk_reasons contains msg if {
	p := object.get(risk, "failure_probability", 0)
	p >= thresholds.learner_failure_probability
	msg := sprintf("the learner's failure estimate of %d%%", [round(p * 100)])
}

high_risk_reasons contains "a database migration" if object.get(risk, "migrations", 0) > 0

high_risk if count(high_risk_reasons) > 0

approver_roles := data.org.services.approver_roles[params.environment]

approvers := lib.eligible(approver_roles)

needs_approval if {
	is_rollout
	params.environment == "production"
}

needs_approval if {
	name == "deploy.promote"
	params.environment == "production"
	object.get(params, "verdict", "") == "marginal"
}

approvals_needed := 2 if {
	is_rollout
	high_risk
} else := 1

default decision := {
	"allow": false,
	"approvals_required": 0,
	"eligible_approvers": [],
	"mode": "execute",
	"reasons": ["No deploy rule matched this action."],
	"rules": ["deploy.default_deny"],
}

decision := lib.deny_doc([v.reason | some v in violations], [v.rule | some v in violations]) if {
	count(violations) > 0
}

decision := lib.allow_doc(
	[sprintf("A high-risk production deploy (%s) needs 2 approvals from on-call (%s), never the requester.", [concat(", ", sort(high_risk_reasons)), concat(", ", approvers)])],
	["deploy.prod_high_risk_two_person"],
	2,
	approvers,
) if {
	count(violations) == 0
	needs_approval
	approvals_needed == 2
}

decision := lib.allow_doc(
	[sprintf("A production deploy needs 1 approval from on-call (%s), not the requester.", [concat(", ", approvers)])],
	["deploy.prod_needs_approval"],
	1,
	approvers,
) if {
	count(violations) == 0
	needs_approval
	approvals_needed == 1
	is_rollout
}

decision := lib.allow_doc(
	[sprintf("Promoting a marginal canary in production needs 1 approval from on-call (%s).", [concat(", ", approvers)])],
	["deploy.marginal_promote_needs_approval"],
	1,
	approvers,
) if {
	count(violations) == 0
	needs_approval
	name == "deploy.promote"
}

decision := lib.allow_doc([sprintf("%s deploys run without approval.", [params.environment])], ["deploy.non_prod_auto"], 0, []) if {
	count(violations) == 0
	is_rollout
	not needs_approval
}

decision := lib.allow_doc(["Automatic rollbacks and aborts are always allowed."], ["deploy.automatic_rollback"], 0, []) if {
	count(violations) == 0
	automatic
}

decision := lib.allow_doc(["Rollbacks and aborts are allowed for deployers and on-call, freeze or not."], ["deploy.rollback_allowed"], 0, []) if {
	count(violations) == 0
	is_remediation
	not automatic
}

decision := lib.allow_doc(["Deployers and on-call may steer a rollout."], ["deploy.steer_allowed"], 0, []) if {
	count(violations) == 0
	is_control
	not needs_approval
}
