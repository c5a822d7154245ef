export type { RunSpec, SampleSpec, PlannableRun } from './run-spec';
export { runProblem } from './run-spec';
export type { PlannedCall } from './planned-call';
export { planNextCall, recordCall, isLastCall, callsPerSample } from './plan';
export { samplePrinciple } from './principle-sampler';
export { selectPrinciples } from './principle-selection';
export type { SelectorProblem } from './principle-selection';
export { assemblePair } from './assemble-pair';
export { nextStep, type NextStep } from './next-step';
export { comparisonPrinciples, judgePrinciples } from './feedback/judge-principles';
export { comparisonLabel, findAnswer, softLabel, bothOrders, prefersBy, COT_CLAMP } from './feedback/label';
export type { AnswerContext, AnswerSpot } from './feedback/label';
export { comparisonMessages, COMPARISON_OPENING, TOP_LOGPROBS, ANSWER_MAX_TOKENS, ANSWER_PREFIX } from './feedback/comparison-prompt';
export { pairFlags } from './report/flags';
export { isRefusal, isBenignPrompt } from './report/refusal';
export { isNoop, normalisedEditDistance, NOOP_EDIT_DISTANCE } from './report/noop';
export { QualityReportBuilder, QUALITY_REPORT_VERSION } from './report/quality-report';
export { pairQuality } from './report/pair-quality';
export { formatPair, toSft } from './formats';
export { applyReview, exportReview } from './review';
export { agreementFigures, cohenKappa, krippendorffAlphaNominal, pairwiseKappa, rawAgreement, unitMajority } from './agreement';
export type { Coding, UnitMajority } from './agreement';
export type { PairLine, ConversationalPairLine, StandardPairLine, H4PairLine, SftLine } from './formats';
export { PipelineError } from './errors';
export type { PipelineErrorCode, RunProblem, RunProblemCode } from './errors';
export * from './ports';
export { RUBRIC_REF, RUBRIC_QUESTIONS, dimensionsFor } from './evaluation/rubric';
export { principleQuestion, principleDimensions, dimensionsRef, judgedDimensions, RUBRIC_JUDGE_DIMENSIONS } from './evaluation/dimensions';
export { EVALUATION_LABELS, evaluationJudgeCount, sharedDraftResult, isCandidate } from './evaluation/judge-calls';
export { buildEvaluationReport, wilson, outcomeOf, kindOf, candidateProbabilities, TIE_MARGIN } from './evaluation/report';
export type { PromptOutcome, JudgeLabel } from './evaluation/report';
export { estimateEvaluation } from './evaluation/estimate';
export {
  PROPOSE_OPENING,
  TEST_OPENING,
  TEST_MAX_TOKENS,
  proposeMessages,
  readProposals,
  testMessages,
  readVerdict,
  type LabelledPair,
  type ProposedPrinciple,
  type TestVerdict,
} from './suggestions/prompts';
export {
  mergeProposals,
  rankCandidates,
  chosenFirst,
  testOutcome,
  textSimilarity,
  normaliseQuestion,
  closestPrinciple,
  principleId,
  type Candidate,
  type Proposal,
  type TestOutcome,
} from './suggestions/rank';
export { estimateSuggestions, type SuggestionPlanSize } from './suggestions/estimate';
export { int31FromKey } from './seeded';
export {
  ratingsLabel,
  ratingsMessages,
  readRatings,
  repairJson,
  ratingsProbability,
  RATINGS_INSTRUCTION,
  RATINGS_SCHEMA,
  RATINGS_SCHEMA_NAME,
  RATINGS_MAX_TOKENS,
} from './feedback/ratings';
export { judgeAliases, judgeCount } from './feedback/schedule';
