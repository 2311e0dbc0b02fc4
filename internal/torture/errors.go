package torture

import "errors"

// ErrConfig: a campaign or profile name that does not exist, or a bad
// RunConfig.
var ErrConfig = errors.New("torture: bad configuration")
