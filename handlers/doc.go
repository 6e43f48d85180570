// Package handlers is the replication layer: one go-githubapp event handler
// per GitHub webhook event, behind the dispatcher served at POST
// /replication. A handler parses the payload, writes it through process/
// in the delivery's transaction, and queues follow-up work with the jobs
// Scheduler.
//
// The layout follows palantir/bulldozer's server/handler:
//
//   - one file and one type per event (issues.go holds Issues, and so on),
//     each with Handles() and Handle();
//   - base.go: Base, embedded in every handler, the Deps it is built from
//     and the list of handlers the dispatcher serves;
//   - delivery.go: the delivery transaction (the claim of the GUID, the
//     event's effect, its status, the follow-up work queued after the
//     commit) and the outcome it returns;
//   - record.go: the webhook_delivery bookkeeping outside that transaction
//     (failures, ignored events, the redelivery check), through models;
//   - webhook.go: the HTTP endpoint (body limit, signature, the
//     dispatcher's answers, the log line and the metrics) and deliver,
//     the adapter through which every handler runs its delivery and hands
//     the outcome to the endpoint.
package handlers
