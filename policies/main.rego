# The one entry point: every action's decision is data.shipmate.main.decision.
# A domain without a policy leaves the decision undefined, and the Gate denies (fail closed).
package shipmate.main

import rego.v1

domain := split(input.action.name, ".")[0]

decision := data.shipmate.deploy.decision if domain == "deploy"

decision := data.shipmate.sandbox.decision if domain == "sandbox"
