// Package gateway is the engine between an agency's legacy document system
// and the national axis. Outbound, a document handed over the local API or
// the spool folder is checked, addressed, built, signed and stored before
// it is acknowledged, then sent by priority lanes until the axis takes it.
// Inbound, packages polled from the axis are stored before they are
// acknowledged, then verified, delivered once and answered with status 01;
// refused ones are quarantined and answered 02. Status packages keep each
// outbound document's per-recipient state.
//
// A Gateway composes two sides over one store (the queue.Store contract:
// each change a transaction of primitives, with its event), key and axis
// client:
//
//	gateway.go      Open, Run, Close; the sides composed; worker wake-ups
//	credentials.go  the signing keys and trust, swapped whole by Reload
//	agencies.go     the agencies served and each one's key
//	engine.go       what an edge may ask, in localapi's terms, by caller
//	listen.go       the listeners and their connection cap
//	spool.go        the spool folders, for systems that only write files
//	record.go       how records are kept in the queue: keys and metadata
//	events.go       every change an event; metrics and webhook follow them
//	retry.go        what becomes of failed work: backoff, dead letters
//
//	workers.go      what both sides' loops share: waiting, reading packages
//
//	outbound.go            submit: check, resolve, sign and store; statuses queued
//	outbound_send.go       send slots: lease, send, reconcile an ambiguous send
//	outbound_documents.go  recall, revoke, resend and the API's view of a document
//
//	inbound.go             poll, fetch, acknowledge; the receive workers
//	inbound_receive.go     verify once and deliver per agency, or quarantine
//	inbound_origin.go      who sent it: the axis's uploader and the signer
//	inbound_binding.go     which agency a signing certificate may sign for
//	inbound_status.go      statuses about our documents, recalls, the inbox answers
//	inbound_change.go      revocations, updates and replacements linked to originals
//	inbox.go               the inbox folders and their index
//
// The local API, its tokens, scopes and limits, is the edge in package
// gateway/api, which asks only what engine.go exports.
//
// Run blocks until its context ends and in-flight sends finish within a
// bound; Close releases the store, the key and the listeners.
package gateway
