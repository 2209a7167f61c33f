package envelope

import "fmt"

// Priority is the urgency of a document (độ khẩn, OtherInfo/Priority). It
// decides which document leaves first, so every queue orders by it.
type Priority int

// The priority code list (§2.6).
const (
	PriorityNormal       Priority = 0 // Thường
	PriorityUrgent       Priority = 1 // Khẩn
	PriorityVeryUrgent   Priority = 2 // Thượng khẩn
	PriorityExpress      Priority = 3 // Hỏa tốc
	PriorityExpressTimed Priority = 4 // Hỏa tốc hẹn giờ
)

var priorityNames = [...]string{"Thường", "Khẩn", "Thượng khẩn", "Hỏa tốc", "Hỏa tốc hẹn giờ"}

// Valid reports whether p is in the code list.
func (p Priority) Valid() bool { return p >= 0 && int(p) < len(priorityNames) }

// String returns the Vietnamese name clerks know the priority by.
func (p Priority) String() string {
	if !p.Valid() {
		return fmt.Sprintf("Priority(%d)", int(p))
	}
	return priorityNames[p]
}

// BusinessType says what a document package does to the document it names
// (Bussiness/BussinessDocType): a new document, or a recall, update or
// replacement of one sent earlier.
type BusinessType int

// The business type code list (§2.3).
const (
	BusinessNew     BusinessType = 0 // văn bản mới
	BusinessRevoke  BusinessType = 1 // thu hồi
	BusinessUpdate  BusinessType = 2 // cập nhật
	BusinessReplace BusinessType = 3 // thay thế
)

var businessNames = [...]string{"Văn bản mới", "Thu hồi", "Cập nhật", "Thay thế"}

// Valid reports whether t is in the code list.
func (t BusinessType) Valid() bool { return t >= 0 && int(t) < len(businessNames) }

// String returns the Vietnamese name of the business type.
func (t BusinessType) String() string {
	if !t.Valid() {
		return fmt.Sprintf("BusinessType(%d)", int(t))
	}
	return businessNames[t]
}

// StatusCode is the two-digit business status a recipient reports about a
// document (§3.2). The sender keeps one per recipient.
type StatusCode string

// The status code list (§3.2).
const (
	StatusArrived       StatusCode = "01" // Đã đến
	StatusRefused       StatusCode = "02" // Từ chối tiếp nhận
	StatusRegistered    StatusCode = "03" // Đã tiếp nhận
	StatusAssigned      StatusCode = "04" // Phân công
	StatusProcessing    StatusCode = "05" // Đang xử lý
	StatusDone          StatusCode = "06" // Hoàn thành
	StatusRecall        StatusCode = "13" // Lấy lại / thu hồi
	StatusRecallAgreed  StatusCode = "15" // Đồng ý
	StatusRecallRefused StatusCode = "16" // Từ chối
)

var statusNames = map[StatusCode]string{
	StatusArrived:       "Đã đến",
	StatusRefused:       "Từ chối tiếp nhận",
	StatusRegistered:    "Đã tiếp nhận",
	StatusAssigned:      "Phân công",
	StatusProcessing:    "Đang xử lý",
	StatusDone:          "Hoàn thành",
	StatusRecall:        "Lấy lại / thu hồi",
	StatusRecallAgreed:  "Đồng ý",
	StatusRecallRefused: "Từ chối",
}

// Valid reports whether c is in the code list.
func (c StatusCode) Valid() bool { _, ok := statusNames[c]; return ok }

// Name returns the Vietnamese name of the status, or "" for a code outside
// the list.
func (c StatusCode) Name() string { return statusNames[c] }

// StatusCodes lists the code list in order.
func StatusCodes() []StatusCode {
	return []StatusCode{StatusArrived, StatusRefused, StatusRegistered, StatusAssigned, StatusProcessing, StatusDone,
		StatusRecall, StatusRecallAgreed, StatusRecallRefused}
}

// A document's handling goes 01 → 03 → 04 → 05 → 06, or is refused (02);
// a sender asks for it back (13) and the recipient agrees (15) or refuses
// (16), as it answers a revocation, update or replacement. These methods
// are the one statement of those rules: the engine and the operator tool
// read them.

// Progress reports whether c is a step of the handling: 01, 03–06.
func (c StatusCode) Progress() bool { return c.Rank() > 0 }

// Rank orders the steps of the handling, 1 for 01 to 6 for 06; 0 for any
// other code.
func (c StatusCode) Rank() int {
	switch c {
	case StatusArrived, StatusRegistered, StatusAssigned, StatusProcessing, StatusDone:
		return int(c[1] - '0')
	}
	return 0
}

// Advances reports whether a recipient's state may move from cur to c:
// the steps of the handling only forward (statuses cross the axis out of
// order); a refusal and the answers to a recall always count.
func (c StatusCode) Advances(cur StatusCode) bool {
	return !cur.Progress() || !c.Progress() || c.Rank() >= cur.Rank()
}

// AnswersRecall reports whether c answers a recall, revocation, update or
// replacement: 15 or 16.
func (c StatusCode) AnswersRecall() bool { return c == StatusRecallAgreed || c == StatusRecallRefused }

// Answerable reports whether a recipient's document system may answer a
// document with c: 02–06, 15 and 16. 01 is the gateway's own on arrival,
// 13 the sender's.
func (c StatusCode) Answerable() bool {
	return c.Valid() && c != StatusArrived && c != StatusRecall
}

// AnswerCodes lists the codes a document system may answer with, in order.
func AnswerCodes() []StatusCode {
	var out []StatusCode
	for _, c := range StatusCodes() {
		if c.Answerable() {
			out = append(out, c)
		}
	}
	return out
}

// JoinCodes writes codes as a list for a message: "02, 03, 04".
func JoinCodes(cs []StatusCode) string {
	var b []byte
	for i, c := range cs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, c...)
	}
	return string(b)
}

// SteeringType marks a steering document (văn bản chỉ đạo). Sources disagree
// on the meanings; 0 is ordinary, and 0–3 are accepted.
type SteeringType int

// Steering types as best understood (§2.6).
const (
	SteeringNone   SteeringType = 0 // ordinary document
	SteeringDirect SteeringType = 1 // steering document
	SteeringReport SteeringType = 2 // report on a steering document
)

// Valid reports whether t is within the accepted range 0–3.
func (t SteeringType) Valid() bool { return t >= 0 && t <= 3 }
