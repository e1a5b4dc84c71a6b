# Deploys and rollbacks: who may change which service where, when, and with whose approval.
package shipmate.deploy

import rego.v1

import data.shipmate.lib

params := input.action.params

service := data.org.services.services[params.service]

is_rollout if input.action.name == "deploy.rollout"

is_rollback if input.action.name == "deploy.rollback"

now_ns := time.parse_rfc3339_ns(input.now)

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
	is_rollback
	not lib.has_role(input.requester, "deployer")
	not lib.has_role(input.requester, "oncall")
	msg := sprintf("%s holds neither the deployer nor the on-call role.", [input.requester.name])
}

# Rollbacks are remediation and stay allowed during a freeze.
violations contains {"rule": "deploy.freeze_window", "reason": msg} if {
	is_rollout
	some w in data.org.freeze.windows
	params.environment in w.environments
	frozen_service(w)
	now_ns >= time.parse_rfc3339_ns(w.start)
	now_ns < time.parse_rfc3339_ns(w.end)
	msg := sprintf("%s is inside change freeze %s (%s to %s): %s.", [params.environment, w.id, w.start, w.end, w.reason])
}

frozen_service(w) if "*" in w.services

frozen_service(w) if params.service in w.services

approver_roles := data.org.services.approver_roles[params.environment]

needs_approval if {
	is_rollout
	params.environment == "production"
}

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
	[sprintf("A production deploy needs 1 approval from on-call (%s), not the requester.", [concat(", ", lib.eligible(approver_roles))])],
	["deploy.prod_needs_approval"],
	1,
	lib.eligible(approver_roles),
) if {
	count(violations) == 0
	needs_approval
}

decision := lib.allow_doc([sprintf("%s deploys run without approval.", [params.environment])], ["deploy.non_prod_auto"], 0, []) if {
	count(violations) == 0
	is_rollout
	not needs_approval
}

decision := lib.allow_doc(["Rollbacks are always allowed for deployers and on-call."], ["deploy.rollback_allowed"], 0, []) if {
	count(violations) == 0
	is_rollback
}
