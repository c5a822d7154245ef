import { PairReviewDetailSchema } from '@amend/contracts';
import type { Session } from '../lib/session';
import { useResource } from '../lib/hooks';
import { shortId } from '../lib/format';
import { href } from '../lib/router';
import { ErrorView, Loading } from '../components/common';
import { PairView } from './PairsPage';

/** One pair by its id (`#/pairs/<id>`): where search results and the review workspace link. */
export function PairPage({ session, pairId }: { session: Session; pairId: string }) {
  const detail = useResource(() => session.client.get(PairReviewDetailSchema, `/v1/pairs/${pairId}/review`), [pairId, session.key]);
  if (detail.error && !detail.data) return <ErrorView error={detail.error} what="Pair" />;
  if (!detail.data) return <Loading what="the pair" />;
  const { pair, review } = detail.data;
  return (
    <div className="page pair-page">
      <div className="page-title">
        <h1>
          Pair <span className="mono">{shortId(pair.id)}</span>
        </h1>
        <div className="row">
          <a href={href(`/runs/${pair.run_id}`)}>
            run <span className="mono">{shortId(pair.run_id)}</span>
          </a>
          <span className="muted">· sample #{pair.metadata.sample_index + 1}</span>
        </div>
      </div>
      <PairView session={session} item={{ pair, review }} onReviewed={(d) => detail.set({ ...detail.data!, ...d })} />
    </div>
  );
}
