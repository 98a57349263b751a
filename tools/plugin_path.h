// Where the tools find the tourcast plugin.
#pragma once

namespace tourcast_tools {

// Whoever exported GST_PLUGIN_PATH knows which plugin they want; otherwise a tool works
// straight from the build tree without any setup, and from an install too. Call before
// gst_init().
void set_plugin_path();

}  // namespace tourcast_tools
