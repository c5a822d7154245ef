import { leafHash, merkleRoot, merkleRootOfLeafHashes, nodeHash } from './merkle';

// The Certificate Transparency reference inputs and tree heads (RFC 6962 test data), sizes 0..8.
const INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** RFC 6962 2.1 as written: split at the largest power of two smaller than n. */
function recursiveRoot(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(recursiveRoot(leaves.slice(0, k)), recursiveRoot(leaves.slice(k)));
}

describe('the Merkle root of a seal', () => {
  it('matches the RFC 6962 reference tree heads for 0 to 8 leaves', () => {
    for (let n = 0; n <= 8; n++) expect(merkleRoot(INPUTS.slice(0, n)).toString('hex')).toBe(ROOTS[n]);
  });

  it('builds the same tree as the recursive definition for every size up to 70', () => {
    const leaves = Array.from({ length: 70 }, (_, i) => leafHash(Buffer.from([i, i * 3])));
    for (let n = 1; n <= 70; n++) expect(merkleRootOfLeafHashes(leaves.slice(0, n))).toEqual(recursiveRoot(leaves.slice(0, n)));
  });

  it('separates leaves from nodes, so two leaves never hash like their parent', () => {
    const a = leafHash('a');
    const b = leafHash('b');
    expect(leafHash(Buffer.concat([a, b]))).not.toEqual(nodeHash(a, b));
  });
});
