#include "plugin_path.h"

#include <string>

#include <glib.h>

namespace tourcast_tools {

void set_plugin_path() {
  if (g_getenv("GST_PLUGIN_PATH") != nullptr)
    return;
  std::string path = TOURCAST_PLUGIN_INSTALL_DIR;
  gchar *exe = g_file_read_link("/proc/self/exe", nullptr);
  std::string build_root = std::string(TOURCAST_BUILD_ROOT) + "/";
  // Only a binary that still lives in its build tree prefers the freshly built plugin, so
  // an installed tool never picks up a stale build directory left behind on the machine.
  if (exe && g_str_has_prefix(exe, build_root.c_str()) && TOURCAST_PLUGIN_BUILD_DIR[0])
    path = std::string(TOURCAST_PLUGIN_BUILD_DIR) + G_SEARCHPATH_SEPARATOR_S + path;
  g_free(exe);
  g_setenv("GST_PLUGIN_PATH", path.c_str(), TRUE);
}

}  // namespace tourcast_tools
