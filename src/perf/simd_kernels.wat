;; SIMD kernels that run inside the memory of tfjs's wasm backend.
;;
;; The module imports the backend's own linear memory ("env" "memory"), so its
;; functions read and write tensors where the backend keeps them: every
;; pointer argument is a byte offset into that memory. The build script
;; (scripts/build-wasm.mjs) assembles this file twice, for a plain memory and
;; for the shared memory of the backend's threaded build (the line marked
;; MEMORY is replaced), into src/perf/simd_kernels_wasm.ts.
;;
;; Functions: adam (one Adam step: every float operation a single IEEE-754
;; float32 operation — mul, add, div, sqrt are correctly rounded in
;; WebAssembly — in the order of tfjs's ops, so bit for bit their result),
;; colsum and gemm (sums in order of the summed index, as the cpu backend
;; adds), transpose (bits copied), softplus (within 2 float32 ulps).
(module
  (import "env" "memory" (memory 1)) ;; MEMORY

  ;; Adam, one variable, tfjs-core's AdamOptimizer.applyGradients:
  ;;   m' = m·b1 + g·c1               (c1 = 1 − beta1)
  ;;   v' = v·b2 + (g·g)·c2           (c2 = 1 − beta2)
  ;;   w' = ((m' / d1) / (sqrt(v' / d2) + eps))·nlr + w
  ;; with d1 = 1 − beta1^t, d2 = 1 − beta2^t and nlr = −learningRate.
  ;; Writes m', v', w' to om, ov, ow (n elements each).
  (func (export "adam")
    (param $g i32) (param $m i32) (param $v i32) (param $w i32)
    (param $om i32) (param $ov i32) (param $ow i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $d1 f32) (param $d2 f32) (param $eps f32) (param $nlr f32)
    (local $i i32) (local $end i32) (local $o i32)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128)
    (local $D1 v128) (local $D2 v128) (local $EPS v128) (local $NLR v128)
    (local $gv v128) (local $mv v128) (local $vv v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $D1 (f32x4.splat (local.get $d1)))
    (local.set $D2 (f32x4.splat (local.get $d2)))
    (local.set $EPS (f32x4.splat (local.get $eps)))
    (local.set $NLR (f32x4.splat (local.get $nlr)))
    (local.set $end (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $o))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $o))) (local.get $B1))
            (f32x4.mul (local.get $gv) (local.get $C1))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $o))) (local.get $B2))
            (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (local.get $C2))))
        (v128.store (i32.add (local.get $om) (local.get $o)) (local.get $mv))
        (v128.store (i32.add (local.get $ov) (local.get $o)) (local.get $vv))
        (v128.store (i32.add (local.get $ow) (local.get $o))
          (f32x4.add
            (f32x4.mul
              (f32x4.div
                (f32x4.div (local.get $mv) (local.get $D1))
                (f32x4.add (f32x4.sqrt (f32x4.div (local.get $vv) (local.get $D2))) (local.get $EPS)))
              (local.get $NLR))
            (v128.load (i32.add (local.get $w) (local.get $o)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next)))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $o))))
        (local.set $ms
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $m) (local.get $o))) (local.get $b1))
            (f32.mul (local.get $gs) (local.get $c1))))
        (local.set $vs
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $v) (local.get $o))) (local.get $b2))
            (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (local.get $c2))))
        (f32.store (i32.add (local.get $om) (local.get $o)) (local.get $ms))
        (f32.store (i32.add (local.get $ov) (local.get $o)) (local.get $vs))
        (f32.store (i32.add (local.get $ow) (local.get $o))
          (f32.add
            (f32.mul
              (f32.div
                (f32.div (local.get $ms) (local.get $d1))
                (f32.add (f32.sqrt (f32.div (local.get $vs) (local.get $d2))) (local.get $eps)))
              (local.get $nlr))
            (f32.load (i32.add (local.get $w) (local.get $o)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))

  ;; Column sums of a row-major rows×cols float32 matrix:
  ;;   out[j] = Σ_i a[i·cols + j], summed in row order.
  ;; Reads a once, front to back; out (cols floats) stays in cache.
  (func (export "colsum")
    (param $a i32) (param $out i32) (param $rows i32) (param $cols i32)
    (local $i i32) (local $j i32) (local $end i32) (local $row i32) (local $p i32)
    (local.set $end (i32.and (local.get $cols) (i32.const -4)))
    ;; out = first row (or zeros when there are no rows)
    (local.set $j (i32.const 0))
    (block $initDone
      (loop $init
        (br_if $initDone (i32.ge_u (local.get $j) (local.get $cols)))
        (local.set $p (i32.shl (local.get $j) (i32.const 2)))
        (f32.store (i32.add (local.get $out) (local.get $p))
          (if (result f32) (i32.gt_u (local.get $rows) (i32.const 0))
            (then (f32.load (i32.add (local.get $a) (local.get $p))))
            (else (f32.const 0))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $init)))
    (local.set $i (i32.const 1))
    (block $rowsDone
      (loop $nextRow
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $row
          (i32.add (local.get $a) (i32.shl (i32.mul (local.get $i) (local.get $cols)) (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $vecDone
          (loop $vec
            (br_if $vecDone (i32.ge_u (local.get $j) (local.get $end)))
            (local.set $p (i32.shl (local.get $j) (i32.const 2)))
            (v128.store (i32.add (local.get $out) (local.get $p))
              (f32x4.add
                (v128.load (i32.add (local.get $out) (local.get $p)))
                (v128.load (i32.add (local.get $row) (local.get $p)))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vec)))
        (block $scalarDone
          (loop $scalar
            (br_if $scalarDone (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $p (i32.shl (local.get $j) (i32.const 2)))
            (f32.store (i32.add (local.get $out) (local.get $p))
              (f32.add
                (f32.load (i32.add (local.get $out) (local.get $p)))
                (f32.load (i32.add (local.get $row) (local.get $p)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $scalar)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $nextRow))))

  ;; Transpose of a row-major rows×cols matrix of 4-byte elements into
  ;; out (cols×rows): out[j·rows + i] = a[i·cols + j]. 4×4 tiles through
  ;; shuffles; the ragged edges element by element. Bits are copied, not
  ;; interpreted, so float32 and int32 alike.
  (func (export "transpose")
    (param $a i32) (param $out i32) (param $rows i32) (param $cols i32)
    (local $i i32) (local $j i32) (local $rowEnd i32) (local $colEnd i32)
    (local $src i32) (local $dst i32) (local $rowBytes i32) (local $colBytes i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rowEnd (i32.and (local.get $rows) (i32.const -4)))
    (local.set $colEnd (i32.and (local.get $cols) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))  ;; stride of a
    (local.set $colBytes (i32.shl (local.get $rows) (i32.const 2)))  ;; stride of out
    (local.set $i (i32.const 0))
    (block $tilesDone
      (loop $tileRow
        (br_if $tilesDone (i32.ge_u (local.get $i) (local.get $rowEnd)))
        (local.set $j (i32.const 0))
        (block $rowDone
          (loop $tile
            (br_if $rowDone (i32.ge_u (local.get $j) (local.get $colEnd)))
            (local.set $src
              (i32.add (local.get $a)
                (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2))))
            (local.set $r0 (v128.load (local.get $src)))
            (local.set $r1 (v128.load (i32.add (local.get $src) (local.get $rowBytes))))
            (local.set $r2 (v128.load (i32.add (local.get $src) (i32.shl (local.get $rowBytes) (i32.const 1)))))
            (local.set $r3 (v128.load (i32.add (local.get $src) (i32.mul (local.get $rowBytes) (i32.const 3)))))
            ;; t0 = a0 b0 a1 b1, t1 = a2 b2 a3 b3, t2 = c0 d0 c1 d1, t3 = c2 d2 c3 d3
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
            (local.set $dst
              (i32.add (local.get $out)
                (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2))))
            (v128.store (local.get $dst)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (v128.store (i32.add (local.get $dst) (local.get $colBytes))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (v128.store (i32.add (local.get $dst) (i32.shl (local.get $colBytes) (i32.const 1)))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (v128.store (i32.add (local.get $dst) (i32.mul (local.get $colBytes) (i32.const 3)))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $tile)))
        ;; the last cols mod 4 columns of these four rows
        (block $edgeDone
          (loop $edge
            (br_if $edgeDone (i32.ge_u (local.get $j) (local.get $cols)))
            (call $copyColumn (local.get $a) (local.get $out) (local.get $rows) (local.get $cols)
              (local.get $i) (i32.add (local.get $i) (i32.const 4)) (local.get $j))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $edge)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tileRow)))
    ;; the last rows mod 4 rows, every column
    (local.set $j (i32.const 0))
    (block $lastDone
      (loop $last
        (br_if $lastDone (i32.ge_u (local.get $j) (local.get $cols)))
        (call $copyColumn (local.get $a) (local.get $out) (local.get $rows) (local.get $cols)
          (local.get $rowEnd) (local.get $rows) (local.get $j))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $last))))

  ;; out[j·rows + i] = a[i·cols + j] for i in [from, to).
  (func $copyColumn
    (param $a i32) (param $out i32) (param $rows i32) (param $cols i32)
    (param $from i32) (param $to i32) (param $j i32)
    (local $i i32)
    (local.set $i (local.get $from))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $to)))
        (i32.store
          (i32.add (local.get $out)
            (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2)))
          (i32.load
            (i32.add (local.get $a)
              (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; Matrix product of row-major float32 matrices, optionally with bias and relu:
  ;;   c[i, j] = act(bias[j] + Σ_k a[i, k]·b[k, j])      (a: m×k, b: k×n, c: m×n)
  ;; b is first copied into panels of 8 columns (k×8 floats each, the last
  ;; panel zero-padded) at `pack`, which must hold 8·⌈n/8⌉·(k + 1) + 8 floats;
  ;; the bias (zeros when bias = 0) follows the panels. Then every 4-row ×
  ;; 8-column tile of c is accumulated over k with eight f32x4 accumulators,
  ;; rows in blocks of 64 so that the block of a stays in cache while every
  ;; panel passes over it. Each c[i, j] is bias + a[i,0]·b[0,j] + a[i,1]·b[1,j]
  ;; + …, summed in order of k.
  (func (export "gemm")
    (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $k i32) (param $n i32)
    (param $bias i32) (param $relu i32) (param $pack i32)
    (local $panels i32) (local $p i32) (local $kk i32) (local $src i32) (local $dst i32)
    (local $cols i32) (local $j i32) (local $biasPack i32) (local $scratch i32)
    (local $i0 i32) (local $iEnd i32) (local $i i32) (local $panel i32)
    (local.set $panels (i32.shr_u (i32.add (local.get $n) (i32.const 7)) (i32.const 3)))
    (local.set $biasPack
      (i32.add (local.get $pack) (i32.shl (i32.mul (local.get $panels) (local.get $k)) (i32.const 5))))
    (local.set $scratch (i32.add (local.get $biasPack) (i32.shl (local.get $panels) (i32.const 5))))
    ;; pack b, row by row
    (local.set $kk (i32.const 0))
    (block $packDone
      (loop $packRow
        (br_if $packDone (i32.ge_u (local.get $kk) (local.get $k)))
        (local.set $p (i32.const 0))
        (block $rowDone
          (loop $packPanel
            (br_if $rowDone (i32.ge_u (local.get $p) (local.get $panels)))
            (local.set $src
              (i32.add (local.get $b)
                (i32.shl (i32.add (i32.mul (local.get $kk) (local.get $n)) (i32.shl (local.get $p) (i32.const 3)))
                  (i32.const 2))))
            (local.set $dst
              (i32.add (local.get $pack)
                (i32.shl (i32.add (i32.mul (local.get $p) (local.get $k)) (local.get $kk)) (i32.const 5))))
            (local.set $cols (i32.sub (local.get $n) (i32.shl (local.get $p) (i32.const 3))))
            (if (i32.ge_u (local.get $cols) (i32.const 8))
              (then
                (v128.store (local.get $dst) (v128.load (local.get $src)))
                (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $src))))
              (else
                (call $copyPadded (local.get $src) (local.get $dst) (local.get $cols))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $packPanel)))
        (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
        (br $packRow)))
    ;; pack the bias (or zeros) the same way
    (local.set $p (i32.const 0))
    (block $biasDone
      (loop $biasPanel
        (br_if $biasDone (i32.ge_u (local.get $p) (local.get $panels)))
        (local.set $dst (i32.add (local.get $biasPack) (i32.shl (local.get $p) (i32.const 5))))
        (if (i32.eqz (local.get $bias))
          (then
            (v128.store (local.get $dst) (v128.const i32x4 0 0 0 0))
            (v128.store offset=16 (local.get $dst) (v128.const i32x4 0 0 0 0)))
          (else
            (call $copyPadded
              (i32.add (local.get $bias) (i32.shl (local.get $p) (i32.const 5)))
              (local.get $dst)
              (select
                (i32.const 8)
                (i32.sub (local.get $n) (i32.shl (local.get $p) (i32.const 3)))
                (i32.ge_u (i32.sub (local.get $n) (i32.shl (local.get $p) (i32.const 3))) (i32.const 8))))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $biasPanel)))
    ;; tiles
    (local.set $i0 (i32.const 0))
    (block $blocksDone
      (loop $block
        (br_if $blocksDone (i32.ge_u (local.get $i0) (local.get $m)))
        (local.set $iEnd (i32.add (local.get $i0) (i32.const 64)))
        (if (i32.gt_u (local.get $iEnd) (local.get $m)) (then (local.set $iEnd (local.get $m))))
        (local.set $p (i32.const 0))
        (block $panelsDone
          (loop $panelLoop
            (br_if $panelsDone (i32.ge_u (local.get $p) (local.get $panels)))
            (local.set $panel
              (i32.add (local.get $pack) (i32.shl (i32.mul (local.get $p) (local.get $k)) (i32.const 5))))
            (local.set $cols (i32.sub (local.get $n) (i32.shl (local.get $p) (i32.const 3))))
            (if (i32.gt_u (local.get $cols) (i32.const 8)) (then (local.set $cols (i32.const 8))))
            (local.set $i (local.get $i0))
            (block $quadsDone
              (loop $quad
                (br_if $quadsDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $iEnd)))
                (call $tile4x8 (local.get $a) (local.get $c) (local.get $i) (local.get $k) (local.get $n)
                  (local.get $p) (local.get $panel) (i32.add (local.get $biasPack) (i32.shl (local.get $p) (i32.const 5)))
                  (local.get $cols) (local.get $relu) (local.get $scratch))
                (local.set $i (i32.add (local.get $i) (i32.const 4)))
                (br $quad)))
            (block $singlesDone
              (loop $single
                (br_if $singlesDone (i32.ge_u (local.get $i) (local.get $iEnd)))
                (call $tile1x8 (local.get $a) (local.get $c) (local.get $i) (local.get $k) (local.get $n)
                  (local.get $p) (local.get $panel) (i32.add (local.get $biasPack) (i32.shl (local.get $p) (i32.const 5)))
                  (local.get $cols) (local.get $relu) (local.get $scratch))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $single)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $panelLoop)))
        (local.set $i0 (local.get $iEnd))
        (br $block))))

  ;; dst[0..8) = src[0..count) followed by zeros (count ≤ 8).
  (func $copyPadded (param $src i32) (param $dst i32) (param $count i32)
    (local $j i32)
    (v128.store (local.get $dst) (v128.const i32x4 0 0 0 0))
    (v128.store offset=16 (local.get $dst) (v128.const i32x4 0 0 0 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $count)))
        (f32.store
          (i32.add (local.get $dst) (i32.shl (local.get $j) (i32.const 2)))
          (f32.load (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 2)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $next))))

  ;; Stores lo, hi (8 floats, after relu when asked) to dst: all 8, or the first `cols` through scratch.
  (func $store8 (param $dst i32) (param $lo v128) (param $hi v128) (param $cols i32) (param $relu i32) (param $scratch i32)
    (if (local.get $relu)
      (then
        (local.set $lo (f32x4.pmax (local.get $lo) (v128.const f32x4 0 0 0 0)))
        (local.set $hi (f32x4.pmax (local.get $hi) (v128.const f32x4 0 0 0 0)))))
    (if (i32.eq (local.get $cols) (i32.const 8))
      (then
        (v128.store (local.get $dst) (local.get $lo))
        (v128.store offset=16 (local.get $dst) (local.get $hi)))
      (else
        (v128.store (local.get $scratch) (local.get $lo))
        (v128.store offset=16 (local.get $scratch) (local.get $hi))
        (call $copyOut (local.get $scratch) (local.get $dst) (local.get $cols)))))

  (func $copyOut (param $src i32) (param $dst i32) (param $count i32)
    (local $j i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $count)))
        (f32.store
          (i32.add (local.get $dst) (i32.shl (local.get $j) (i32.const 2)))
          (f32.load (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 2)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $next))))

  ;; Rows i..i+3 of c, columns of panel p.
  (func $tile4x8
    (param $a i32) (param $c i32) (param $i i32) (param $k i32) (param $n i32)
    (param $p i32) (param $panel i32) (param $biasPtr i32) (param $cols i32) (param $relu i32) (param $scratch i32)
    (local $pa i32) (local $pb i32) (local $end i32) (local $ks i32) (local $out i32) (local $ns i32)
    (local $b0 v128) (local $b1 v128) (local $s v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $ks (i32.shl (local.get $k) (i32.const 2)))
    (local.set $c00 (v128.load (local.get $biasPtr)))
    (local.set $c01 (v128.load offset=16 (local.get $biasPtr)))
    (local.set $c10 (local.get $c00)) (local.set $c11 (local.get $c01))
    (local.set $c20 (local.get $c00)) (local.set $c21 (local.get $c01))
    (local.set $c30 (local.get $c00)) (local.set $c31 (local.get $c01))
    (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ks))))
    (local.set $end (i32.add (local.get $pa) (local.get $ks)))
    (local.set $pb (local.get $panel))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $pa) (local.get $end)))
        (local.set $b0 (v128.load (local.get $pb)))
        (local.set $b1 (v128.load offset=16 (local.get $pb)))
        (local.set $s (v128.load32_splat (local.get $pa)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $b1))))
        (local.set $s (v128.load32_splat (i32.add (local.get $pa) (local.get $ks))))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $b0))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $b1))))
        (local.set $s (v128.load32_splat (i32.add (local.get $pa) (i32.shl (local.get $ks) (i32.const 1)))))
        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $b0))))
        (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $b1))))
        (local.set $s (v128.load32_splat (i32.add (local.get $pa) (i32.mul (local.get $ks) (i32.const 3)))))
        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $b0))))
        (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $b1))))
        (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
        (local.set $pb (i32.add (local.get $pb) (i32.const 32)))
        (br $next)))
    (local.set $ns (i32.shl (local.get $n) (i32.const 2)))
    (local.set $out
      (i32.add (local.get $c)
        (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (i32.shl (local.get $p) (i32.const 3))) (i32.const 2))))
    (call $store8 (local.get $out) (local.get $c00) (local.get $c01) (local.get $cols) (local.get $relu) (local.get $scratch))
    (local.set $out (i32.add (local.get $out) (local.get $ns)))
    (call $store8 (local.get $out) (local.get $c10) (local.get $c11) (local.get $cols) (local.get $relu) (local.get $scratch))
    (local.set $out (i32.add (local.get $out) (local.get $ns)))
    (call $store8 (local.get $out) (local.get $c20) (local.get $c21) (local.get $cols) (local.get $relu) (local.get $scratch))
    (local.set $out (i32.add (local.get $out) (local.get $ns)))
    (call $store8 (local.get $out) (local.get $c30) (local.get $c31) (local.get $cols) (local.get $relu) (local.get $scratch)))

  ;; Row i of c, columns of panel p.
  (func $tile1x8
    (param $a i32) (param $c i32) (param $i i32) (param $k i32) (param $n i32)
    (param $p i32) (param $panel i32) (param $biasPtr i32) (param $cols i32) (param $relu i32) (param $scratch i32)
    (local $pa i32) (local $pb i32) (local $end i32) (local $s v128) (local $c0 v128) (local $c1 v128)
    (local.set $c0 (v128.load (local.get $biasPtr)))
    (local.set $c1 (v128.load offset=16 (local.get $biasPtr)))
    (local.set $pa (i32.add (local.get $a) (i32.shl (i32.mul (local.get $i) (local.get $k)) (i32.const 2))))
    (local.set $end (i32.add (local.get $pa) (i32.shl (local.get $k) (i32.const 2))))
    (local.set $pb (local.get $panel))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $pa) (local.get $end)))
        (local.set $s (v128.load32_splat (local.get $pa)))
        (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $s) (v128.load (local.get $pb)))))
        (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $pb)))))
        (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
        (local.set $pb (i32.add (local.get $pb) (i32.const 32)))
        (br $next)))
    (call $store8
      (i32.add (local.get $c)
        (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (i32.shl (local.get $p) (i32.const 3))) (i32.const 2)))
      (local.get $c0) (local.get $c1) (local.get $cols) (local.get $relu) (local.get $scratch)))

  ;; softplus(x) = max(x, 0) + log1p(exp(−|x|)), elementwise over n floats.
  ;;   exp: y = −|x| = n·ln2 + r, |r| ≤ ln2/2 (Cody–Waite split of ln2), exp(r)
  ;;        by Cephes' degree-7 minimax polynomial, times 2^n built from bits;
  ;;        y below −87.336544 = ln(2⁻¹²⁶) (a result under the smallest normal float) gives 0.
  ;;   log1p(t), t ∈ (0, 1]: 2·atanh(s) with s = t / (2 + t) ∈ (0, 1/3], the
  ;;        series 2s·(1 + s²/3 + s⁴/5 + … + s¹⁴/15) (truncation below 1e-8):
  ;;        no cancellation, so small t keeps its relative accuracy.
  ;; NaN stays NaN, +∞ gives +∞, −∞ gives 0.
  (func (export "softplus") (param $x i32) (param $out i32) (param $n i32)
    (local $i i32) (local $rem i32) (local $xp i32) (local $op i32) (local $v v128) (local $res v128)
    (local $y v128) (local $valid v128) (local $k v128) (local $kbits v128) (local $r v128) (local $p v128)
    (local $t v128) (local $s v128) (local $w v128) (local $q v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $c4 v128) (local $c5 v128) (local $c6 v128) (local $c7 v128) (local $c8 v128) (local $c9 v128) (local $c10 v128) (local $c11 v128) (local $c12 v128) (local $c13 v128) (local $c14 v128) (local $c15 v128) (local $c16 v128) (local $c17 v128) (local $c18 v128) (local $c19 v128) (local $c20 v128) (local $c21 v128)
    ;; constants in locals, set once outside the loop
    (local.set $c0 (v128.const f32x4 -87.336544 -87.336544 -87.336544 -87.336544))
    (local.set $c1 (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))
    (local.set $c2 (v128.const f32x4 12582912 12582912 12582912 12582912))
    (local.set $c3 (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))
    (local.set $c4 (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))
    (local.set $c5 (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $c6 (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3))
    (local.set $c7 (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3))
    (local.set $c8 (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2))
    (local.set $c9 (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1))
    (local.set $c10 (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1))
    (local.set $c11 (v128.const f32x4 1 1 1 1))
    (local.set $c12 (v128.const i32x4 0x4B3FFF81 0x4B3FFF81 0x4B3FFF81 0x4B3FFF81))
    (local.set $c13 (v128.const f32x4 2 2 2 2))
    (local.set $c14 (v128.const f32x4 0.0666666667 0.0666666667 0.0666666667 0.0666666667))
    (local.set $c15 (v128.const f32x4 0.0769230769 0.0769230769 0.0769230769 0.0769230769))
    (local.set $c16 (v128.const f32x4 0.0909090909 0.0909090909 0.0909090909 0.0909090909))
    (local.set $c17 (v128.const f32x4 0.1111111111 0.1111111111 0.1111111111 0.1111111111))
    (local.set $c18 (v128.const f32x4 0.1428571429 0.1428571429 0.1428571429 0.1428571429))
    (local.set $c19 (v128.const f32x4 0.2 0.2 0.2 0.2))
    (local.set $c20 (v128.const f32x4 0.3333333333 0.3333333333 0.3333333333 0.3333333333))
    (local.set $c21 (v128.const f32x4 0 0 0 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $xp (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $op (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $rem (i32.sub (local.get $n) (local.get $i)))
        ;; four elements, or the last one to three (the other lanes zero)
        (if (i32.ge_u (local.get $rem) (i32.const 4))
          (then (local.set $v (v128.load (local.get $xp))))
          (else
            (local.set $v (v128.load32_zero (local.get $xp)))
            (if (i32.ge_u (local.get $rem) (i32.const 2))
              (then (local.set $v (f32x4.replace_lane 1 (local.get $v) (f32.load offset=4 (local.get $xp))))))
            (if (i32.ge_u (local.get $rem) (i32.const 3))
              (then (local.set $v (f32x4.replace_lane 2 (local.get $v) (f32.load offset=8 (local.get $xp))))))))
        (local.set $y (f32x4.neg (f32x4.abs (local.get $v))))
        (local.set $valid (f32x4.ge (local.get $y) (local.get $c0)))
        (local.set $y (f32x4.pmax (local.get $y) (local.get $c0)))
        ;; k = round(y·log2(e)) by adding and subtracting 1.5·2²³ (|y·log2(e)| ≤ 126);
        ;; kbits keeps the sum, whose low mantissa bits hold k as an integer
        (local.set $kbits (f32x4.add (f32x4.mul (local.get $y)
          (local.get $c1))
          (local.get $c2)))
        (local.set $k (f32x4.sub (local.get $kbits) (local.get $c2)))
        (local.set $r (f32x4.sub
          (f32x4.sub (local.get $y) (f32x4.mul (local.get $k) (local.get $c3)))
          (f32x4.mul (local.get $k) (local.get $c4))))
        ;; exp(r) = 1 + r + r²·P(r)
        (local.set $p (local.get $c5))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
          (local.get $c6)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
          (local.get $c7)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
          (local.get $c8)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
          (local.get $c9)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
          (local.get $c10)))
        (local.set $p (f32x4.add
          (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
          (local.get $c11)))
        ;; t = exp(r)·2^k (k ∈ [−126, 0]), 0 where y was below ln(2⁻¹²⁶) or NaN
        (local.set $t (v128.and
          (f32x4.mul (local.get $p)
            (i32x4.shl (i32x4.sub (local.get $kbits) (local.get $c12)) (i32.const 23)))
          (local.get $valid)))
        ;; log1p(t) = 2s·Q(s²), s = t / (2 + t)
        (local.set $s (f32x4.div (local.get $t) (f32x4.add (local.get $t) (local.get $c13))))
        (local.set $w (f32x4.mul (local.get $s) (local.get $s)))
        (local.set $q (local.get $c14))
        (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $w))
          (local.get $c15)))
        (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $w))
          (local.get $c16)))
        (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $w))
          (local.get $c17)))
        (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $w))
          (local.get $c18)))
        (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $w))
          (local.get $c19)))
        (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $w))
          (local.get $c20)))
        (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $w)) (local.get $c11)))
        (local.set $res
          (f32x4.add
            (f32x4.pmax (local.get $v) (local.get $c21))
            (f32x4.mul (f32x4.add (local.get $s) (local.get $s)) (local.get $q))))
        (if (i32.ge_u (local.get $rem) (i32.const 4))
          (then (v128.store (local.get $op) (local.get $res)))
          (else
            (v128.store32_lane 0 (local.get $op) (local.get $res))
            (if (i32.ge_u (local.get $rem) (i32.const 2))
              (then (v128.store32_lane offset=4 1 (local.get $op) (local.get $res))))
            (if (i32.ge_u (local.get $rem) (i32.const 3))
              (then (v128.store32_lane offset=8 2 (local.get $op) (local.get $res))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next))))
)
