package api

// ContentDisposition is contentDisposition, for the external tests.
var ContentDisposition = contentDisposition
