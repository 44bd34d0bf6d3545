package org.neurotome.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import org.neurotome.arch.Experts;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * One request's pass through a sparse layer of {@link Transformer} (transformers'
 * {@code modeling_mixtral.py} {@code MixtralSparseMoeBlock}, {@code modeling_qwen2_moe.py}
 * {@code Qwen2MoeSparseMoeBlock}): the router's probabilities are a float32 softmax over
 * every expert; the top k are selected ({@code torch.topk}) and their probabilities, divided
 * by their sum where the family renormalises, are the routing weights, the other experts' 0.
 * Each routed expert selected at some position is then computed on every position, its
 * neurons' coefficients scaled by its routing weight, and its output added, in the order the
 * experts are handed over (ascending); the shared expert, scaled by
 * {@code sigmoid(shared_expert_gate·x)}, is added last. An expert no position selected would
 * add exact zeros and is skipped; its neurons' coefficients and its output are 0 in the taps.
 * The neurons are numbered as one FFN, expert-major with the shared expert's last (see
 * {@link LayerWeights}).
 */
final class Routing {
    /**
     * What routing reads of the pass it runs in: the taps asked for and where they go, and the
     * request's interventions (experts taken out of a row, neuron factors).
     */
    interface Context {
        boolean wants(String tap);

        /** Records {@code value} [B, S, …] under {@code tap} when it is asked for. */
        void record(String tap, NDArray value);

        /** Layer {@code layer}'s router logits [B, S, E] with the experts taken out of a row at −∞. */
        NDArray routerLogits(int layer, NDArray logits);

        /** Layer {@code layer}'s neuron factors [B, 1, W], or null when none applies. */
        NDArray neuronScale(int layer);
    }

    private final int l;
    private final NDArray x;
    private final Context p;
    private final UnaryOperator<NDArray> activation;
    private final Experts e;
    private final NDArray weights;                                                 // [B, S, E]
    private final NDArray scale;                                                   // [B, 1, W] or null
    private final Set<Integer> chosen = new TreeSet<>();
    private final NDArray[] coefs;
    private final NDArray[] outs;
    private NDArray sum;

    /**
     * Routes {@code x} [B, S, D], layer {@code l}'s FFN input, among the experts {@code e}
     * describes, recording the router's taps; the experts' FFNs apply {@code activation} to
     * their gate projection.
     */
    Routing(int l, NDArray x, LayerWeights lw, Experts e, UnaryOperator<NDArray> activation, Context p) {
        this.l = l;
        this.x = x;
        this.p = p;
        this.activation = activation;
        this.e = e;
        NDArray logits = p.routerLogits(l, Linear.linear(x, lw.router(), null).singletonOrThrow());  // [B, S, E]
        p.record(Tap.routerLogits(l), logits);
        int last = logits.getShape().dimension() - 1;
        NDArray probs = logits.softmax(last);
        NDArray selected = probs.topK(e.topK(), last, true, true).get(1);         // [B, S, k]
        p.record(Tap.expertIndices(l), selected);
        for (long k : selected.toLongArray()) {
            chosen.add((int) k);
        }
        NDArray w = probs.mul(selected.oneHot(e.count(), DataType.FLOAT32).sum(new int[] {last}));
        if (e.renormalize()) {
            w = w.div(w.sum(new int[] {last}, true));
        }
        p.record(Tap.expertWeights(l), w);
        this.weights = w;
        this.scale = p.neuronScale(l);
        this.coefs = new NDArray[e.count()];
        this.outs = new NDArray[e.count()];
    }

    /** The experts selected at some position. */
    Set<Integer> chosen() {
        return chosen;
    }

    /** The sum of the outputs added so far, or null. */
    NDArray sum() {
        return sum;
    }

    /** The arrays this routing holds beyond {@code x} (for a caller managing their lifetimes). */
    List<NDArray> held() {
        Set<NDArray> h = Collections.newSetFromMap(new IdentityHashMap<>());
        for (NDArray a : new NDArray[] {weights, scale, sum}) {
            if (a != null) {
                h.add(a);
            }
        }
        for (int k = 0; k < e.count(); k++) {
            if (coefs[k] != null) {
                h.add(coefs[k]);
            }
            if (outs[k] != null) {
                h.add(outs[k]);
            }
        }
        return List.copyOf(h);
    }

    /** Whether {@code a} is one of the arrays of {@link #held}. */
    boolean holds(NDArray a) {
        return held().stream().anyMatch(h -> h == a);
    }

    /** Adds routed expert {@code k}'s output when some position selected it; whether it did. */
    boolean add(ExpertWeights w, int k) {
        if (!chosen.contains(k)) {
            return false;
        }
        long width = e.width();
        NDArray m = coefficients(w, weights.get(new NDIndex(":, :, {}:{}", k, k + 1)), k * width, width);
        NDArray o = m.matMul(w.out());                                             // [B, S, D]
        sum = sum == null ? o : sum.add(o);
        if (p.wants(Tap.mlpPost(l))) {
            coefs[k] = m;
        }
        if (p.wants(Tap.expertOut(l))) {
            outs[k] = o;
        }
        return true;
    }

    /** An expert's neuron coefficients [B, S, width]: act(gate)·up, times {@code gain} and the neuron factors. */
    private NDArray coefficients(ExpertWeights w, NDArray gain, long from, long width) {
        NDList gu = Linear.linear(x, w.in(), null).singletonOrThrow().split(2, 2);
        NDArray m = activation.apply(gu.get(0)).mul(gu.get(1));
        if (gain != null) {
            m = m.mul(gain);
        }
        if (scale != null) {
            m = m.mul(scale.get(new NDIndex(":, :, {}:{}", from, from + width)));
        }
        return m;
    }

    /**
     * The layer's output [B, S, D] once every selected expert is added: the shared expert
     * added, and the taps of every neuron's coefficient [B, S, W] and of each expert's output
     * [B, S, E (+1), D] recorded.
     */
    NDArray finish(LayerWeights lw) {
        long bs = x.getShape().get(0);
        long s = x.getShape().get(1);
        long d = x.getShape().get(2);
        NDArray sharedM = null;
        NDArray sharedO = null;
        if (lw.sharedExpert() != null) {
            NDArray gate = lw.sharedGate() == null ? null
                    : Activation.sigmoid(Linear.linear(x, lw.sharedGate(), null).singletonOrThrow());
            sharedM = coefficients(lw.sharedExpert(), gate, (long) e.count() * e.width(), e.sharedWidth());
            sharedO = sharedM.matMul(lw.sharedExpert().out());
            sum = sum == null ? sharedO : sum.add(sharedO);
        }
        if (p.wants(Tap.mlpPost(l))) {
            NDList parts = new NDList();
            for (int k = 0; k < e.count(); k++) {
                parts.add(coefs[k] != null ? coefs[k] : x.getManager().zeros(new Shape(bs, s, e.width())));
            }
            if (sharedM != null) {
                parts.add(sharedM);
            }
            p.record(Tap.mlpPost(l), NDArrays.concat(parts, 2));
        }
        if (p.wants(Tap.expertOut(l))) {
            NDList parts = new NDList();
            for (int k = 0; k < e.count(); k++) {
                parts.add(outs[k] != null ? outs[k] : x.getManager().zeros(new Shape(bs, s, d)));
            }
            if (sharedO != null) {
                parts.add(sharedO);
            }
            p.record(Tap.expertOut(l), NDArrays.stack(parts, 2));
        }
        return sum != null ? sum : x.getManager().zeros(new Shape(bs, s, d));
    }
}
