/**
 * The context model on onnxruntime: its forward pass (`contextForward` in `context.ts`, inference
 * mode) written as an ONNX graph over the saved weights, built in memory when the model loads, and
 * {@link loadContextPredictor}, which runs it there or on TensorFlow.js.
 */
import { describeError, SpinegradeError } from '../errors.js';
import type { EngineChoice } from '../models/engine.js';
import { floatAttribute, intAttribute, intsAttribute, OnnxGraph } from '../models/onnx/graph.js';
import { OnnxSession, onnxRuntimeAvailable } from '../models/onnx/runtime.js';
import {
  attentionMaskBias,
  type ContextBatch,
  type ContextLogitArrays,
  type ContextModelConfig,
  type ContextPredictor,
  type ContextWeights,
  checkContextBatch,
  HEAD_NAMES,
  HEAD_SIZES,
  LAYER_NORM_EPSILON,
  parameterSpecs,
  readContextWeights,
} from './contextFormat.js';
import { GRADER_HEADS } from './loss.js';

const CNN_INPUT = (head: string): string => `cnn_${head}`;

/** The context model (inference mode) as an ONNX model with inputs `embeddings` `[spines·levels, E]`, `mask_bias` and the CNN logits. */
export function contextModelToOnnx(weights: ContextWeights): Uint8Array {
  const { config, values } = weights;
  const { levels: l, modelSize: d, heads: h, embeddingSize: e } = config;
  const dh = d / h;
  const g = new OnnxGraph('context');
  const shapes = new Map(parameterSpecs(config).map((spec) => [spec.name, spec.shape]));
  const w = (name: string): string => {
    const array = values.get(name);
    const shape = shapes.get(name);
    if (!array || !shape) throw new Error(`context model has no weight ${name}`);
    return g.floats(name, array, shape);
  };
  const shapeConstant = (dims: readonly number[]): string => g.int64s(g.fresh(`shape_${dims.join('x')}`), dims);
  const reshape = (x: string, dims: readonly number[]): string =>
    g.node('Reshape', [x, shapeConstant(dims)], g.fresh(`${x}/reshaped`));
  const dense = (x: string, prefix: string): string =>
    g.node('Gemm', [x, w(`${prefix}/kernel`), w(`${prefix}/bias`)], g.fresh(`${prefix}/out`));
  const layerNorm = (x: string, prefix: string): string =>
    g.node('LayerNormalization', [x, w(`${prefix}/gamma`), w(`${prefix}/beta`)], g.fresh(prefix), {
      axis: intAttribute(-1),
      epsilon: floatAttribute(LAYER_NORM_EPSILON),
    });

  const embeddings = g.input('embeddings', ['rows', e]);
  const maskBias = g.input('mask_bias', ['spines', 1, 1, l]);
  const normalized = g.node(
    'Div',
    [g.node('Sub', [embeddings, w('input/mean')], 'centred'), w('input/std')],
    'normalized',
  );
  let hidden = g.node('Add', [reshape(dense(normalized, 'input'), [-1, l, d]), w('level/embedding')], 'hidden0');
  const scale = g.floats('attention/scale', [1 / Math.sqrt(dh)], []);
  const qkvSplit = g.int64s('attention/split', [d, d, d]);
  for (let layer = 0; layer < config.layers; layer++) {
    const p = `layer${layer}`;
    const qkv = dense(reshape(layerNorm(hidden, `${p}/norm1`), [-1, d]), `${p}/attention/qkv`);
    const [q, k, v] = ['q', 'k', 'v'].map((n) => `${p}/${n}`) as [string, string, string];
    g.node('Split', [qkv, qkvSplit], `${p}/split`, { axis: intAttribute(1) }, [q, k, v]);
    const perHead = (x: string, perm: readonly number[]): string =>
      g.node('Transpose', [reshape(x, [-1, l, h, dh])], g.fresh(`${x}/heads`), { perm: intsAttribute(perm) });
    const scores = g.node(
      'Add',
      [
        g.node(
          'Mul',
          [g.node('MatMul', [perHead(q, [0, 2, 1, 3]), perHead(k, [0, 2, 3, 1])], `${p}/qk`), scale],
          `${p}/scaled`,
        ),
        maskBias,
      ],
      `${p}/scores`,
    );
    const attention = g.node('Softmax', [scores], `${p}/attention`, { axis: intAttribute(3) });
    const context = g.node(
      'Transpose',
      [g.node('MatMul', [attention, perHead(v, [0, 2, 1, 3])], `${p}/context_heads`)],
      `${p}/context`,
      { perm: intsAttribute([0, 2, 1, 3]) },
    );
    const attended = dense(reshape(context, [-1, d]), `${p}/attention/out`);
    hidden = g.node('Add', [hidden, reshape(attended, [-1, l, d])], `${p}/residual1`);
    const mlpHidden = g.node(
      'Relu',
      [dense(reshape(layerNorm(hidden, `${p}/norm2`), [-1, d]), `${p}/mlp/hidden`)],
      `${p}/mlp/relu`,
    );
    const mlp = dense(mlpHidden, `${p}/mlp/out`);
    hidden = g.node('Add', [hidden, reshape(mlp, [-1, l, d])], `${p}/residual2`);
  }
  const heads = dense(reshape(layerNorm(hidden, 'final/norm'), [-1, d]), 'heads');
  const split = HEAD_NAMES.map((head) => `heads/${head}`);
  g.node('Split', [heads, g.int64s('heads/split', HEAD_SIZES)], 'heads/split_node', { axis: intAttribute(1) }, split);
  HEAD_NAMES.forEach((head, i) => {
    const size = GRADER_HEADS[head];
    const logits = reshape(split[i] as string, [-1, l, size]);
    if (config.cnnLogitResidual) {
      const cnn = g.input(CNN_INPUT(head), ['spines', l, size]);
      g.node('Add', [logits, cnn], head);
    } else {
      g.node('Identity', [logits], head);
    }
    g.output(head, ['spines', l, size]);
  });
  return g.encode({ producer: 'spinegrade', producerVersion: '1', docString: 'spinegrade context model' });
}

/** The context model run by onnxruntime. */
class OnnxContextPredictor implements ContextPredictor {
  readonly engine = 'onnx' as const;
  private readonly session: OnnxSession;

  constructor(
    readonly config: Readonly<ContextModelConfig>,
    model: Uint8Array,
    source: string,
  ) {
    this.session = new OnnxSession(model, source);
  }

  predict(batch: ContextBatch): ContextLogitArrays {
    checkContextBatch(this.config, batch);
    const { levels: l, embeddingSize: e } = this.config;
    const s = batch.spines;
    const inputs: Record<string, { data: Float32Array; dims: readonly number[] }> = {
      embeddings: { data: batch.embeddings, dims: [s * l, e] },
      mask_bias: { data: attentionMaskBias(batch), dims: [s, 1, 1, l] },
    };
    if (this.config.cnnLogitResidual && batch.cnnLogits) {
      for (const head of HEAD_NAMES) {
        inputs[CNN_INPUT(head)] = { data: batch.cnnLogits[head], dims: [s, l, GRADER_HEADS[head]] };
      }
    }
    const [pfirrmann, modic, findings] = this.session.run(inputs, HEAD_NAMES).map((o) => o.data) as [
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    return { pfirrmann, modic, findings };
  }

  dispose(): void {
    this.session.dispose();
  }
}

/**
 * Loads the context model saved in `dir` for inference: on onnxruntime when it loads here (unless
 * `tfjs` is asked for), on TensorFlow.js otherwise; `onnx` insists and says why it cannot.
 */
export async function loadContextPredictor(dir: string, choice: EngineChoice): Promise<ContextPredictor> {
  if (choice !== 'tfjs') {
    if (onnxRuntimeAvailable()) {
      const weights = await readContextWeights(dir);
      try {
        return new OnnxContextPredictor(weights.config, contextModelToOnnx(weights), dir);
      } catch (error) {
        if (choice === 'onnx') {
          throw new SpinegradeError(
            'USAGE',
            `cannot run the context model with --engine onnx: ${describeError(error)}`,
            dir,
          );
        }
      }
    } else if (choice === 'onnx') {
      throw new SpinegradeError('USAGE', 'cannot run with --engine onnx: onnxruntime-node does not load here', dir);
    }
  }
  const [{ initTf }, { loadContextModel, tfjsContextPredictor }] = await Promise.all([
    import('../models/tf/backend.js'),
    import('./context.js'),
  ]);
  await initTf('wasm');
  return tfjsContextPredictor(await loadContextModel(dir));
}
