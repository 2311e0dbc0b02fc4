package blockdev

// SetPath changes the path a File reports (Path, and the Path of its
// OpErrors) after the file was renamed: atomicio creates a data file under a
// temporary name and renames it into place with the File open, and the
// descriptor (with its lock) follows the rename. SetPath is not safe for
// concurrent use with the File's other methods: call it before the File is
// shared.
func (f *File) SetPath(path string) { f.path = path }
