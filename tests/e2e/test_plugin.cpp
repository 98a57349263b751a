/* The plugin loads and registers its elements with their metadata.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <cstring>

#include <gst/gst.h>
#include <gtest/gtest.h>

TEST(Plugin, ElementsAreRegistered) {
  GstPlugin *plugin = gst_registry_find_plugin(gst_registry_get(), "tourcast");
  ASSERT_NE(plugin, nullptr) << "the tourcast plugin did not load";
  gst_object_unref(plugin);
  for (const char *name : {"tourwebrtcbin", "tourguidesink", "tourattendeesrc"}) {
    GstElementFactory *factory = gst_element_factory_find(name);
    ASSERT_NE(factory, nullptr) << name;
    const gchar *klass = gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_KLASS);
    EXPECT_NE(g_strstr_len(klass, -1, "WebRTC"), nullptr) << name << ": " << klass;
    GstElement *element = gst_element_factory_create(factory, nullptr);
    EXPECT_NE(element, nullptr) << name;
    if (element) {
      /* Every element names a tour and language the same way. */
      if (g_strcmp0(name, "tourwebrtcbin") != 0) {
        EXPECT_NE(g_object_class_find_property(G_OBJECT_GET_CLASS(element), "tour"), nullptr);
        EXPECT_NE(g_object_class_find_property(G_OBJECT_GET_CLASS(element), "redis-url"), nullptr);
      }
      gst_object_unref(element);
    }
    gst_object_unref(factory);
  }
}

TEST(Plugin, EveryElementHasAnExampleThatParses) {
  for (const char *name : {"tourwebrtcbin", "tourguidesink", "tourattendeesrc",
                           "tourqualitymonitor", "touropusadapter"}) {
    GstElementFactory *factory = gst_element_factory_find(name);
    ASSERT_NE(factory, nullptr) << name;
    const gchar *example = gst_element_factory_get_metadata(factory, "example");
    ASSERT_NE(example, nullptr) << name << " has no example line";
    ASSERT_TRUE(g_str_has_prefix(example, "gst-launch-1.0 ")) << example;
    EXPECT_NE(g_strstr_len(example, -1, name), nullptr) << example;
    GError *error = nullptr;
    /* Past gst-launch's own options, such as -m. */
    const char *description = example + strlen("gst-launch-1.0 ");
    while (description[0] == '-')
      description = strchr(description, ' ') + 1;
    GstElement *pipeline = gst_parse_launch(description, &error);
    EXPECT_EQ(error, nullptr) << name << ": " << (error ? error->message : "");
    g_clear_error(&error);
    if (pipeline)
      gst_object_unref(pipeline);
    gst_object_unref(factory);
  }
}
