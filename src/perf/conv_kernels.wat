;; Convolution gradients that run inside the memory of tfjs's wasm backend
;; (as simd_kernels.wat: every pointer is a byte offset into the backend's
;; memory; the build script assembles this file for a plain and for a shared
;; memory into src/perf/conv_kernels_wasm.ts).
;;
;; A 2-D convolution of x (NHWC: batch×H×W×C) with a filter FH×FW×C×CO,
;; strides sh, sw, top and left padding pt, pl, has OH×OW outputs per image.
;; Its "rows" are the P = batch·OH·OW output positions p = (b, oy, ox), and
;; the row of x under output p, of K = FH·FW·C values in the filter's order
;; (kh, kw, c), is
;;   cols[p, (kh, kw, c)] = x[b, oy·sh − pt + kh, ox·sw − pl + kw, c]
;; (0 outside x). Then, with dy as a P×CO matrix and the filter as K×CO:
;;   dW = colsᵀ · dy                 (Conv2DBackpropFilter: gemmTnAcc over rows)
;;   dx = col2im(dy · Wᵀ)            (Conv2DBackpropInput: gemm, then col2imAdd)
;; Functions: im2col, col2imAdd (rows [p0, p1) of cols, row stride ld floats),
;; gemmTnAcc (c += aᵀ·b, summed in row order, tiles of 4×8 in SIMD registers).
(module
  (import "env" "memory" (memory 1)) ;; MEMORY

  ;; Rows p ∈ [p0, p1) of cols, written at cols + (p − p0)·ld floats; the
  ;; K = FH·FW·C values of each row (zeros where the window leaves x), then
  ;; ld − K zeros. x is the whole NHWC batch.
  (func (export "im2col")
    (param $x i32) (param $cols i32) (param $p0 i32) (param $p1 i32) (param $ld i32)
    (param $H i32) (param $W i32) (param $C i32) (param $FH i32) (param $FW i32)
    (param $sh i32) (param $sw i32) (param $pt i32) (param $pl i32) (param $OH i32) (param $OW i32)
    (local $p i32) (local $b i32) (local $oy i32) (local $ox i32) (local $row i32) (local $kh i32)
    (local $iy i32) (local $ix0 i32) (local $kwLo i32) (local $kwHi i32) (local $dst i32)
    (local $spanBytes i32) (local $cBytes i32) (local $kBytes i32) (local $rest i32)
    (local.set $cBytes (i32.shl (local.get $C) (i32.const 2)))
    (local.set $spanBytes (i32.mul (local.get $FW) (local.get $cBytes)))
    (local.set $kBytes (i32.mul (local.get $FH) (local.get $spanBytes)))
    (local.set $p (local.get $p0))
    (local.set $row (local.get $cols))
    (block $done
      (loop $nextRow
        (br_if $done (i32.ge_u (local.get $p) (local.get $p1)))
        (local.set $rest (i32.rem_u (local.get $p) (i32.mul (local.get $OH) (local.get $OW))))
        (local.set $b (i32.div_u (local.get $p) (i32.mul (local.get $OH) (local.get $OW))))
        (local.set $oy (i32.div_u (local.get $rest) (local.get $OW)))
        (local.set $ox (i32.rem_u (local.get $rest) (local.get $OW)))
        (call $window (local.get $ox) (local.get $sw) (local.get $pl) (local.get $W) (local.get $FW))
        (local.set $kwHi)
        (local.set $kwLo)
        (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $pl)))
        (local.set $kh (i32.const 0))
        (local.set $dst (local.get $row))
        (block $khDone
          (loop $nextKh
            (br_if $khDone (i32.ge_u (local.get $kh) (local.get $FH)))
            (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $pt)) (local.get $kh)))
            (if (i32.or (i32.lt_s (local.get $iy) (i32.const 0)) (i32.ge_s (local.get $iy) (local.get $H)))
              (then (call $zero (local.get $dst) (local.get $spanBytes)))
              (else
                (call $zero (local.get $dst) (i32.mul (local.get $kwLo) (local.get $cBytes)))
                ;; (no copy when the window misses every column: its source offset may lie outside x)
                (if (i32.gt_s (local.get $kwHi) (local.get $kwLo))
                  (then
                    (call $copy
                      (i32.add (local.get $dst) (i32.mul (local.get $kwLo) (local.get $cBytes)))
                      (i32.add (local.get $x)
                        (i32.mul
                          (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $iy)) (local.get $W))
                                   (i32.add (local.get $ix0) (local.get $kwLo)))
                          (local.get $cBytes)))
                      (i32.mul (i32.sub (local.get $kwHi) (local.get $kwLo)) (local.get $cBytes)))))
                (call $zero (i32.add (local.get $dst) (i32.mul (local.get $kwHi) (local.get $cBytes)))
                  (i32.mul (i32.sub (local.get $FW) (local.get $kwHi)) (local.get $cBytes)))))
            (local.set $dst (i32.add (local.get $dst) (local.get $spanBytes)))
            (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
            (br $nextKh)))
        (call $zero (i32.add (local.get $row) (local.get $kBytes))
          (i32.sub (i32.shl (local.get $ld) (i32.const 2)) (local.get $kBytes)))
        (local.set $row (i32.add (local.get $row) (i32.shl (local.get $ld) (i32.const 2))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $nextRow))))

  ;; Short spans (a few channels) by 4-byte moves, long ones by memory.fill / memory.copy, whose call costs
  ;; more than moving a handful of floats. `bytes` is a multiple of 4.
  (func $zero (param $dst i32) (param $bytes i32)
    (local $end i32)
    (if (i32.ge_u (local.get $bytes) (i32.const 128))
      (then (memory.fill (local.get $dst) (i32.const 0) (local.get $bytes)) (return)))
    (local.set $end (i32.add (local.get $dst) (local.get $bytes)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (i32.store (local.get $dst) (i32.const 0))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $next))))

  (func $copy (param $dst i32) (param $src i32) (param $bytes i32)
    (local $end i32)
    (if (i32.ge_u (local.get $bytes) (i32.const 128))
      (then (memory.copy (local.get $dst) (local.get $src) (local.get $bytes)) (return)))
    (local.set $end (i32.add (local.get $dst) (local.get $bytes)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (i32.store (local.get $dst) (i32.load (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $next))))

  ;; The filter columns kw ∈ [lo, hi) whose input column ox·s − pad + kw lies in [0, W).
  (func $window (param $ox i32) (param $s i32) (param $pad i32) (param $W i32) (param $FW i32) (result i32 i32)
    (local $ix0 i32) (local $lo i32) (local $hi i32)
    (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $s)) (local.get $pad)))
    ;; lo = clamp(−ix0, 0, FW), hi = clamp(W − ix0, lo, FW)
    (local.set $lo (i32.sub (i32.const 0) (local.get $ix0)))
    (if (i32.lt_s (local.get $lo) (i32.const 0)) (then (local.set $lo (i32.const 0))))
    (if (i32.gt_s (local.get $lo) (local.get $FW)) (then (local.set $lo (local.get $FW))))
    (local.set $hi (i32.sub (local.get $W) (local.get $ix0)))
    (if (i32.gt_s (local.get $hi) (local.get $FW)) (then (local.set $hi (local.get $FW))))
    (if (i32.lt_s (local.get $hi) (local.get $lo)) (then (local.set $hi (local.get $lo))))
    (local.get $lo) (local.get $hi))

  ;; The adjoint of im2col: for p ∈ [p0, p1), adds row p of cols (at
  ;; cols + (p − p0)·ld floats) into the NHWC batch dx where im2col reads x;
  ;; values under the padding are dropped. Rows in order, each row's
  ;; windows kh = 0, 1, … in order.
  (func (export "col2imAdd")
    (param $cols i32) (param $dx i32) (param $p0 i32) (param $p1 i32) (param $ld i32)
    (param $H i32) (param $W i32) (param $C i32) (param $FH i32) (param $FW i32)
    (param $sh i32) (param $sw i32) (param $pt i32) (param $pl i32) (param $OH i32) (param $OW i32)
    (local $p i32) (local $b i32) (local $oy i32) (local $ox i32) (local $row i32) (local $kh i32)
    (local $iy i32) (local $ix0 i32) (local $kwLo i32) (local $kwHi i32) (local $src i32)
    (local $spanBytes i32) (local $cBytes i32) (local $rest i32)
    (local.set $cBytes (i32.shl (local.get $C) (i32.const 2)))
    (local.set $spanBytes (i32.mul (local.get $FW) (local.get $cBytes)))
    (local.set $p (local.get $p0))
    (local.set $row (local.get $cols))
    (block $done
      (loop $nextRow
        (br_if $done (i32.ge_u (local.get $p) (local.get $p1)))
        (local.set $rest (i32.rem_u (local.get $p) (i32.mul (local.get $OH) (local.get $OW))))
        (local.set $b (i32.div_u (local.get $p) (i32.mul (local.get $OH) (local.get $OW))))
        (local.set $oy (i32.div_u (local.get $rest) (local.get $OW)))
        (local.set $ox (i32.rem_u (local.get $rest) (local.get $OW)))
        (call $window (local.get $ox) (local.get $sw) (local.get $pl) (local.get $W) (local.get $FW))
        (local.set $kwHi)
        (local.set $kwLo)
        (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $pl)))
        (local.set $kh (i32.const 0))
        (local.set $src (local.get $row))
        (block $khDone
          (loop $nextKh
            (br_if $khDone (i32.ge_u (local.get $kh) (local.get $FH)))
            (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $pt)) (local.get $kh)))
            (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $H)))
              (then
                (call $addSpan
                  (i32.add (local.get $src) (i32.mul (local.get $kwLo) (local.get $cBytes)))
                  (i32.add (local.get $dx)
                    (i32.mul
                      (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $iy)) (local.get $W))
                               (i32.add (local.get $ix0) (local.get $kwLo)))
                      (local.get $cBytes)))
                  (i32.mul (i32.sub (local.get $kwHi) (local.get $kwLo)) (local.get $C)))))
            (local.set $src (i32.add (local.get $src) (local.get $spanBytes)))
            (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
            (br $nextKh)))
        (local.set $row (i32.add (local.get $row) (i32.shl (local.get $ld) (i32.const 2))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $nextRow))))

  ;; dst[0..n) += src[0..n) (float32).
  (func $addSpan (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32) (local $end4 i32)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $src) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vecDone
      (loop $vec
        (br_if $vecDone (i32.ge_u (local.get $src) (local.get $end4)))
        (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $vec)))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $src) (local.get $end)))
        (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $tail))))

  ;; c[i, j] += Σ_{q < rows} a[q, i]·b[q, j] for i < m, j < n, float32, with
  ;; row strides lda, ldb, ldc (in floats). m must be a multiple of 4 and n
  ;; of 8 (callers pad with zeros). Each c[i, j] is ((c + a[0,i]·b[0,j]) +
  ;; a[1,i]·b[1,j]) + …, summed in order of q. Tiles of 4 rows × 8 columns
  ;; of c stay in eight f32x4 registers over all q; for each q, one load of
  ;; a's four values, two of b's eight, four splats, eight multiply-adds.
  (func (export "gemmTnAcc")
    (param $a i32) (param $b i32) (param $c i32) (param $rows i32) (param $m i32) (param $n i32)
    (param $lda i32) (param $ldb i32) (param $ldc i32)
    (local $i i32) (local $j i32) (local $q i32) (local $ap i32) (local $bp i32) (local $cp i32)
    (local $aStep i32) (local $bStep i32) (local $cStep i32)
    (local $av v128) (local $b0 v128) (local $b1 v128) (local $s v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $aStep (i32.shl (local.get $lda) (i32.const 2)))
    (local.set $bStep (i32.shl (local.get $ldb) (i32.const 2)))
    (local.set $cStep (i32.shl (local.get $ldc) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $iDone
      (loop $iLoop
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $m)))
        (local.set $j (i32.const 0))
        (block $jDone
          (loop $jLoop
            (br_if $jDone (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $cp (i32.add (local.get $c)
              (i32.shl (i32.add (i32.mul (local.get $i) (local.get $ldc)) (local.get $j)) (i32.const 2))))
            (local.set $c00 (v128.load (local.get $cp)))
            (local.set $c01 (v128.load offset=16 (local.get $cp)))
            (local.set $c10 (v128.load (i32.add (local.get $cp) (local.get $cStep))))
            (local.set $c11 (v128.load offset=16 (i32.add (local.get $cp) (local.get $cStep))))
            (local.set $c20 (v128.load (i32.add (local.get $cp) (i32.shl (local.get $cStep) (i32.const 1)))))
            (local.set $c21 (v128.load offset=16 (i32.add (local.get $cp) (i32.shl (local.get $cStep) (i32.const 1)))))
            (local.set $c30 (v128.load (i32.add (local.get $cp) (i32.mul (local.get $cStep) (i32.const 3)))))
            (local.set $c31 (v128.load offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cStep) (i32.const 3)))))
            (local.set $ap (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))
            (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $q (local.get $rows))
            (block $qDone
              (loop $qLoop
                (br_if $qDone (i32.eqz (local.get $q)))
                (local.set $av (v128.load (local.get $ap)))
                (local.set $b0 (v128.load (local.get $bp)))
                (local.set $b1 (v128.load offset=16 (local.get $bp)))
                (local.set $s (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $av) (local.get $av)))
                (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $av) (local.get $av)))
                (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $av) (local.get $av)))
                (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $av) (local.get $av)))
                (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $ap (i32.add (local.get $ap) (local.get $aStep)))
                (local.set $bp (i32.add (local.get $bp) (local.get $bStep)))
                (local.set $q (i32.sub (local.get $q) (i32.const 1)))
                (br $qLoop)))
            (v128.store (local.get $cp) (local.get $c00))
            (v128.store offset=16 (local.get $cp) (local.get $c01))
            (v128.store (i32.add (local.get $cp) (local.get $cStep)) (local.get $c10))
            (v128.store offset=16 (i32.add (local.get $cp) (local.get $cStep)) (local.get $c11))
            (v128.store (i32.add (local.get $cp) (i32.shl (local.get $cStep) (i32.const 1))) (local.get $c20))
            (v128.store offset=16 (i32.add (local.get $cp) (i32.shl (local.get $cStep) (i32.const 1))) (local.get $c21))
            (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cStep) (i32.const 3))) (local.get $c30))
            (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cStep) (i32.const 3))) (local.get $c31))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $jLoop)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $iLoop)))))
