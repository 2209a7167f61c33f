// Package envelope reads and writes edXML packages (QCVN 102:2016/BTTTT with
// its 2022 amendment), the format every official document and status report
// takes on the national document exchange axis.
//
// Two kinds of package cross the axis: a Document (a message header, an
// optional trace and business section, a manifest and base64 attachments) and
// a Status (a business status code sent back about an earlier document).
//
// Reading is lenient, because peers differ: elements are matched on local
// names, either prefix style is accepted, "Status" may stand for
// "MessageHeader", "Business" for "Bussiness", and dates may be dd/MM/yyyy.
// Hostile input is refused before it costs much: DOCTYPE and entity
// declarations, and anything over the Limits, stop the read at once.
//
// Writing is strict and byte-stable: Build validates first, then emits the
// namespace layout, element order and date forms of the standard's own sample,
// the same bytes for the same input.
//
// Signing writes the enveloped XML-DSig signature agencies exchange, as the
// last child of edXMLHeader, straight from the writer's canonical output.
// Verify is strict where peers are lax, because signature wrapping lives in
// leniency, and hands back only what the signature covered.
//
// A package in a file is read by offset (ParseAt, VerifyAt, OpenInboundAt):
// its attachment texts stay in the file, streamed to the digest and decoded
// to files, so memory follows the package's header, not its attachments.
// Both readers give the same result on every package.
//
// Validation reports every problem of a package, each naming the element path,
// the rule and the value, so a refused package can be fixed in one round.
package envelope
