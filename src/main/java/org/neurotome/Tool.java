package org.neurotome;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The tool's own identity (name and version), as recorded in outputs for provenance. */
public final class Tool {
    private Tool() {
    }

    public static String version() {
        try (InputStream in = Tool.class.getResourceAsStream("/neurotome-version.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}
