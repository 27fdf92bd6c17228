"""tconv: the course's package. Every module, one line each.

The learners' library (what the notebooks import; ``make publish`` ships it, with the answer
modules the registry declares, the references' and the mistakes', replaced by recorded values in
the graded edition):

chapters 01-05
- ``reference``: the answers, as readable numpy scatter-add code.
- ``pytorch``: every exercise's PyTorch twin (all chapters), in float64, to hold answers against.
- ``cases``: the article's examples, edge cases and seeded random cases (chapter 04's in
  ``layer_cases``, handed out as ``cases.<name>``); the record ``Case``, and what chapters 03
  and 04 share, in ``case``.
- ``mistakes``: common wrong answers, written out, so feedback can name them (chapter 04's in
  ``layer_mistakes``).
- ``plots``: the pictures of chapters 01-05 and of the checks' feedback.
- ``drawing``: how every picture is drawn and shown: the text alternative, the display, a course
  picture left undrawn when grading, the labelled boxes (``plots`` re-exports it).
- ``explorer``: chapter 03's optional slider explorer.

chapter 06
- ``unet_reference``: the answers (``center_crop``, ``DecoderBlock``).
- ``unet_cases``: the crop windows and decoder-block inputs the checks use.
- ``unet_checks``: its checks, written by hand (they take tensors and a class).
- ``unet_mistakes``: the known mistakes.
- ``unet``: the U-Net workbench: size tables, the network, upsampling comparison; its data,
  training and measures in ``unet_training``, the experiment's settings in ``unet_settings``
  (both handed out as ``unet.<name>``).
- ``unet_plots``: chapter 06's pictures.

chapter 07
- ``checkerboard_reference``: the answers (overlap counts, phase sums, polyphase, pixel shuffle).
- ``checkerboard_cases``: cases, kernels and the formulas the feedback shows.
- ``checkerboard_mistakes``: the known mistakes.
- ``checkerboard_plots``: chapter 07's pictures.
- ``checkerboard_experiment``: three learned upsamplers trained and their checkerboard measured.

shared by every chapter
- ``exercises``: the registry: every exercise declared once (chapter, learner's name, reference,
  PyTorch twin, formula, mistakes, cases module, how its answers come back for the re-check, test
  cases); the only place that says which modules hold answers.
- ``checks``: what the notebooks' test cells call: the checks made from the registry, and the
  hand-written ones re-exported.
- ``judge``: the one way a check calls learner code; the records (``CheckVerdict``, ``Mistake``).
- ``comparing``: values and shapes compared, the first difference, the named mistake.
- ``arguments``: argument checks that name the argument and its range (no answer in it).
- ``guard``: notices an answer calling a ready-made transposed convolution.
- ``lookup``: the learners' copy's recorded values, looked up by argument.

The instructors' machinery lives in ``tconv.grader`` (never imported by a notebook, never
published; its docstring lists its modules):
- ``grader.course``: where the course's folders are; how nbgrader is run; the cell time limit.
- ``grader.release``: ``make release``, solutions/ -> course/ and the sample submissions.
- ``grader.publish``: ``make publish``, the learners' repository without the answers.
- ``grader.grading``: ``make grade``, the coordinator of the grading pipeline: ``intake``,
  ``sandbox``, ``task``, ``runner``, the re-check (``recheck/``), ``records``,
  ``gradebook``, ``report``.
- ``grader.formgrader``: ``make formgrader`` and ``make export``.
"""
