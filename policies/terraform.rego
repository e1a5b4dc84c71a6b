# Terraform plans (`terraform show -json`): what an apply would change, judged before it runs.
# Findings carry a severity: "deny" stops the apply; "high" and "approval" need humans.
package shipmate.terraform

import rego.v1

import data.shipmate.lib

params := input.action.params

cfg := data.org.terraform

plan := object.get(params, "plan", {})

env := object.get(params, "environment", "production")

# Changes that do something (no-op and read are not changes).
changes := [rc |
	some rc in object.get(plan, "resource_changes", [])
	not passive(rc)
]

passive(rc) if {
	every a in rc.change.actions {
		a in {"no-op", "read"}
	}
}

after(rc) := rc.change.after if is_object(rc.change.after) else := {}

before(rc) := rc.change.before if is_object(rc.change.before) else := {}

finding(rule, severity, address, reason) := {"rule": rule, "severity": severity, "address": address, "reason": reason}

# --- deletes and replacements of resources that hold data -----------------------------------
findings contains finding("terraform.stateful_delete", "high", rc.address, msg) if {
	some rc in changes
	rc.type in cfg.stateful_types
	"delete" in rc.change.actions
	msg := sprintf("%s would be %s, and it holds data.", [rc.address, removal(rc)])
}

removal(rc) := "replaced" if "create" in rc.change.actions

removal(rc) := "deleted" if not "create" in rc.change.actions

# --- public S3 -------------------------------------------------------------------------------
public_acls := {"public-read", "public-read-write"}

findings contains finding("terraform.public_s3", "deny", rc.address, msg) if {
	some rc in changes
	rc.type in {"aws_s3_bucket", "aws_s3_bucket_acl"}
	after(rc).acl in public_acls
	msg := sprintf("%s makes a bucket public (acl %s).", [rc.address, after(rc).acl])
}

findings contains finding("terraform.public_s3", "deny", rc.address, msg) if {
	some rc in changes
	rc.type == "aws_s3_bucket_public_access_block"
	some flag in ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]
	after(rc)[flag] == false
	msg := sprintf("%s turns off S3 public access blocking.", [rc.address])
}

# --- security groups open to the internet ----------------------------------------------------
world := {"0.0.0.0/0", "::/0"}

open_ingress(rc) if {
	rc.type == "aws_security_group"
	some rule in object.get(after(rc), "ingress", [])
	some cidr in array.concat(object.get(rule, "cidr_blocks", []), object.get(rule, "ipv6_cidr_blocks", []))
	cidr in world
}

open_ingress(rc) if {
	rc.type == "aws_security_group_rule"
	after(rc).type == "ingress"
	some cidr in array.concat(object.get(after(rc), "cidr_blocks", []), object.get(after(rc), "ipv6_cidr_blocks", []))
	cidr in world
}

open_ingress(rc) if {
	rc.type == "aws_vpc_security_group_ingress_rule"
	some key in ["cidr_ipv4", "cidr_ipv6"]
	object.get(after(rc), key, "") in world
}

findings contains finding("terraform.open_security_group", "deny", rc.address, msg) if {
	some rc in changes
	open_ingress(rc)
	msg := sprintf("%s opens ingress to the whole internet (0.0.0.0/0).", [rc.address])
}

# --- IAM policies that allow everything on everything ----------------------------------------
iam_policy_types := {"aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy"}

as_list(x) := x if is_array(x) else := [x]

wildcard_statement(doc) if {
	some st in as_list(doc.Statement)
	st.Effect == "Allow"
	some a in as_list(st.Action)
	wild_action(a)
	"*" in as_list(st.Resource)
}

wild_action(a) if a == "*"

wild_action(a) if endswith(a, ":*")

findings contains finding("terraform.iam_wildcard", "deny", rc.address, msg) if {
	some rc in changes
	rc.type in iam_policy_types
	is_string(after(rc).policy)
	json.is_valid(after(rc).policy)
	wildcard_statement(json.unmarshal(after(rc).policy))
	msg := sprintf("%s allows every action on every resource (an IAM wildcard).", [rc.address])
}

# --- namespaces no automation may touch (conftest's example policy, as data) -----------------
protected := sort([rc.address |
	some rc in changes
	some prefix in cfg.protected_namespaces
	startswith(rc.type, prefix)
])

findings contains finding("terraform.protected_namespace", "deny", "plan", msg) if {
	count(protected) > 0
	msg := sprintf("Terraform plan will change prohibited resources in the following namespaces: %s (%s).", [concat(", ", cfg.protected_namespaces), concat(", ", protected)])
}

# --- changes that need a human look ----------------------------------------------------------
findings contains finding("terraform.too_many_changes", "approval", "plan", msg) if {
	count(changes) > cfg.max_changes
	msg := sprintf("The plan changes %d resources (more than %d).", [count(changes), cfg.max_changes])
}

findings contains finding("terraform.sensitive_update", "approval", rc.address, msg) if {
	some rc in changes
	"update" in rc.change.actions
	some attr in object.get(cfg.sensitive_updates, rc.type, [])
	before(rc)[attr] != after(rc)[attr]
	msg := sprintf("%s changes %s (%v -> %v).", [rc.address, attr, before(rc)[attr], after(rc)[attr]])
}

# --- the decision ----------------------------------------------------------------------------
# An apply shipmate runs (a drift fix), or one Terraform Cloud will run once its run task passes.
is_apply if input.action.name in {"terraform.apply", "terraform.runtask"}

operator if lib.has_role(input.requester, "deployer")

operator if lib.has_role(input.requester, "oncall")

denials := [f | some f in findings; f.severity == "deny"]

high := [f | some f in findings; f.severity == "high"]

reviews := [f | some f in findings; f.severity in {"high", "approval"}]

approvers := lib.eligible(object.get(data.org.services.approver_roles, env, ["oncall"]))

approvals := 2 if {
	env == "production"
	count(high) > 0
} else := 1 if {
	# shipmate's own applies in production always have a second pair of eyes; a Terraform
	# Cloud run has its own apply confirmation, so only findings stop it.
	env == "production"
	input.action.name == "terraform.apply"
} else := 1 if {
	count(reviews) > 0
} else := 0

sorted_findings := sort([f | some f in findings])

with_findings(doc) := object.union(doc, {"findings": sorted_findings})

default decision := {
	"allow": false,
	"approvals_required": 0,
	"eligible_approvers": [],
	"mode": "execute",
	"reasons": ["No Terraform rule matched this action."],
	"rules": ["terraform.default_deny"],
}

decision := lib.deny_doc([sprintf("%s holds neither the deployer nor the on-call role.", [input.requester.name])], ["terraform.requester_not_operator"]) if {
	not operator
}

decision := with_findings(lib.deny_doc([f.reason | some f in denials], {f.rule | some f in denials})) if {
	operator
	is_apply
	count(denials) > 0
}

decision := with_findings(lib.allow_doc(apply_reasons, apply_rules, approvals, approvers)) if {
	operator
	is_apply
	count(denials) == 0
}

apply_reasons := array.concat([f.reason | some f in reviews], [approval_sentence])

apply_rules := array.concat(sort({f.rule | some f in reviews}), [approval_rule])

approval_sentence := "The plan passes policy and may be applied without approval." if {
	approvals == 0
} else := sprintf("Applying needs %d approval(s) from %s (%s).", [approvals, concat(", ", object.get(data.org.services.approver_roles, env, ["oncall"])), concat(", ", approvers)])

approval_rule := "terraform.clean_plan" if {
	approvals == 0
} else := "terraform.prod_two_person" if {
	approvals == 2
} else := "terraform.apply_needs_approval"

# Planning and ignoring drift change nothing in the cloud.
decision := lib.allow_doc(["Planning is read-only."], ["terraform.plan_read_only"], 0, []) if {
	operator
	input.action.name == "terraform.plan"
}

decision := lib.allow_doc(["Deployers and on-call may snooze drift reports."], ["terraform.ignore_allowed"], 0, []) if {
	operator
	input.action.name == "terraform.drift.ignore"
}
