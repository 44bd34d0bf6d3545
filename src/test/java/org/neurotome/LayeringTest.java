package org.neurotome;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.library.Architectures;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The package layering of docs/architecture.md, checked on the compiled main classes: a
 * package may use only the packages of the layers below its own (never one above, nor another
 * package of its own layer), and no group of packages depends on itself in a cycle. The rule
 * is also run on deliberately broken fixture classes under {@code org.neurotome.layering}, to
 * show that it fails on an upward import and on a cycle.
 */
class LayeringTest {
    /** The layers, lowest first; each holds packages (relative to org.neurotome; "" is the root package). */
    static final List<List<String>> LAYERS = List.of(
            List.of(""),                       // exit codes, errors, JSON, hashing, atomic files
            List.of("archive", "output"),      // archives; the output guard, lock and marker
            List.of("yaml", "checkpoint"),     // strict YAML; safetensors reading and writing, manifest
            List.of("arch"),                   // architecture tables, head and neuron layouts
            List.of("model"),                  // weights, the forward, tokenizer
            List.of("eval"),                   // datasets, scoring, metrics, gates, reports
            List.of("cna", "training"),        // the paper's analyses; optimiser, loss, schedule, corpus
            List.of("lora"),                   // LoRA adapters, their training and the layer scan
            List.of("analysis", "surgery", "fixtures"), // one dispatch of analyses; weight edits; the fixture models
            List.of("release"),                // the model card
            List.of("recipe"),                 // recipes, planning, running
            List.of("sweep"),                  // grids of recipe variants as units, engines, results
            List.of("cli"));                   // commands

    @Test
    void mainPackagesUseOnlyLowerLayers() {
        JavaClasses main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("org.neurotome");
        assertTrue(main.size() > 100, "the main classes were found: " + main.size());
        layered("org.neurotome", LAYERS).check(main);
        noCycles("org.neurotome").check(main);
    }

    @Test
    void everyMainPackageHasALayer() {
        JavaClasses main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("org.neurotome");
        List<String> known = new ArrayList<>();
        LAYERS.forEach(l -> l.forEach(p -> known.add(p.isEmpty() ? "org.neurotome" : "org.neurotome." + p)));
        main.forEach(c -> assertTrue(known.stream().anyMatch(k -> c.getPackageName().equals(k)
                        || c.getPackageName().startsWith(k + ".") && !k.equals("org.neurotome")),
                c.getName() + " is in a package no layer names; add it to LAYERS and docs/architecture.md"));
    }

    @Test
    void anUpwardImportFails() {
        JavaClasses fixture = new ClassFileImporter().importPackages("org.neurotome.layering.low",
                "org.neurotome.layering.high");
        AssertionError e = assertThrows(AssertionError.class,
                () -> layered("org.neurotome.layering", List.of(List.of("low"), List.of("high"))).check(fixture));
        assertTrue(e.getMessage().contains("org.neurotome.layering.low.Counter")
                && e.getMessage().contains("org.neurotome.layering.high.Report"), e.getMessage());
        // the same classes pass when the layers are the other way round: the rule reads direction
        layered("org.neurotome.layering", List.of(List.of("high"), List.of("low"))).check(
                new ClassFileImporter().importPackages("org.neurotome.layering.low"));
    }

    @Test
    void aPackageCycleFails() {
        JavaClasses ring = new ClassFileImporter().importPackages("org.neurotome.layering.ring");
        AssertionError e = assertThrows(AssertionError.class, () -> noCycles("org.neurotome.layering.ring").check(ring));
        assertTrue(e.getMessage().contains("ring.one") && e.getMessage().contains("ring.two"), e.getMessage());
    }

    /** Each package may access only the packages of lower layers (ArchUnit's layered architecture). */
    static ArchRule layered(String base, List<List<String>> layers) {
        Architectures.LayeredArchitecture arch = Architectures.layeredArchitecture()
                .consideringOnlyDependenciesInLayers().withOptionalLayers(true);
        for (List<String> layer : layers) {
            for (String p : layer) {
                arch = arch.layer(name(p)).definedBy(p.isEmpty() ? base : base + "." + p + "..");
            }
        }
        List<String> below = new ArrayList<>();
        for (List<String> layer : layers) {
            for (String p : layer) {
                arch = below.isEmpty() ? arch.whereLayer(name(p)).mayNotAccessAnyLayer()
                        : arch.whereLayer(name(p)).mayOnlyAccessLayers(below.toArray(String[]::new));
            }
            layer.forEach(p -> below.add(name(p)));
        }
        return arch;
    }

    /** No cycle among the packages directly under {@code base} (with their subpackages). */
    static ArchRule noCycles(String base) {
        return slices().matching(base + ".(*)..").should().beFreeOfCycles();
    }

    private static String name(String pkg) {
        return pkg.isEmpty() ? "root" : pkg;
    }
}
