package org.neurotome.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A fake model whose probabilities are known by hand: over a small vocabulary, the next token
 * after text {@code x} has {@code p(v | x) = w(x, v) / Σ_u w(x, u)}, with every weight 1 unless
 * set. Text splits into words (with their leading space), single digits and single symbols, so
 * {@code "6*7=42"} is {@code 6 * 7 = 4 2}. Tokens outside the vocabulary (prompt words) get ids
 * after it; they can be read but never predicted. It follows the {@link CaseScorer} contract:
 * target tokens are the tail of tokens(prompt + target) after tokens(prompt).
 */
final class TableScorer implements CaseScorer {
    private static final Pattern TOKEN = Pattern.compile("\\s?[A-Za-z']+|\\d|[^\\sA-Za-z\\d]|\\s+");

    private final List<String> vocabulary;
    private final Map<String, Map<String, Double>> weights = new HashMap<>();
    private final Map<String, Integer> ids = new LinkedHashMap<>();
    final List<Integer> batchSizes = new ArrayList<>();

    TableScorer(String... vocabulary) {
        this.vocabulary = List.of(vocabulary);
        for (String v : vocabulary) {
            ids.put(v, ids.size());
        }
    }

    /** Sets {@code w(prefix, token)}. */
    TableScorer weight(String prefix, String token, double w) {
        if (!vocabulary.contains(token)) {
            throw new IllegalArgumentException("'" + token + "' is not in the vocabulary");
        }
        weights.computeIfAbsent(prefix, k -> new HashMap<>()).put(token, w);
        return this;
    }

    int[] tokenize(String text) {
        List<Integer> out = new ArrayList<>();
        Matcher m = TOKEN.matcher(text);
        int end = 0;
        while (m.find()) {
            if (m.start() != end) {
                throw new IllegalStateException("untokenizable text at " + end + " of '" + text + "'");
            }
            out.add(ids.computeIfAbsent(m.group(), k -> ids.size()));
            end = m.end();
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private String text(int id) {
        return ids.entrySet().stream().filter(e -> e.getValue() == id).findFirst().orElseThrow().getKey();
    }

    @Override
    public List<CaseScore> score(List<EvalCase> batch) {
        batchSizes.add(batch.size());
        List<CaseScore> out = new ArrayList<>();
        for (EvalCase c : batch) {
            int[] target = CaseScorer.targetTokens(c, tokenize(c.prompt()), tokenize(c.prompt() + c.target()));
            String prefix = c.prompt();
            List<TokenScore> tokens = new ArrayList<>();
            for (int id : target) {
                if (id >= vocabulary.size()) {
                    throw new IllegalArgumentException("target token '" + text(id) + "' is not in the vocabulary");
                }
                Map<String, Double> w = weights.getOrDefault(prefix, Map.of());
                double sum = 0;
                int predicted = 0;
                for (int v = 0; v < vocabulary.size(); v++) {
                    double wv = w.getOrDefault(vocabulary.get(v), 1.0);
                    sum += wv;
                    if (wv > w.getOrDefault(vocabulary.get(predicted), 1.0)) {
                        predicted = v;
                    }
                }
                tokens.add(new TokenScore(id, Math.log(w.getOrDefault(vocabulary.get(id), 1.0) / sum), predicted));
                prefix += vocabulary.get(id);
            }
            out.add(new CaseScore(tokens));
        }
        return out;
    }
}
