# Shared helpers for every domain's policy.
package shipmate.lib

import rego.v1

users := data.org.team.users

requester := input.requester

has_role(principal, role) if role in principal.roles

# Members of the team directory holding any of `roles`, other than the requester.
eligible(roles) := sort([name |
	some name, user in users
	some role in user.roles
	role in roles
	name != input.requester.name
])

# A decision document; every domain builds its decision with one of these.
deny_doc(reasons, rules) := {
	"allow": false,
	"approvals_required": 0,
	"eligible_approvers": [],
	"mode": "execute",
	"reasons": sort(reasons),
	"rules": sort(rules),
}

allow_doc(reasons, rules, approvals, approvers) := {
	"allow": true,
	"approvals_required": approvals,
	"eligible_approvers": approvers,
	"mode": "execute",
	"reasons": sort(reasons),
	"rules": sort(rules),
}
