// Package static embeds the dashboard's CSS, JavaScript, vendored libraries
// and icons, so the binary serves them without files on disk.
package static
