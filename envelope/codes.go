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
