"""Published optimal fibre lengths for the MuJoCo walker's muscles, which the metabolic probe's masses need.

MuJoCo's muscle ``L0`` is the musculotendon excursion over the normalised length range (a rigid-tendon
length scale), not a fibre length: it is 2-2.4x the fibre length for soleus, gastrocnemius and rectus
femoris, which made the probe's muscles weigh 33 kg. These are the mean optimal fibre lengths of Ward et
al. 2009 (Clin Orthop Relat Res 467:1074, 21 cadaver specimens), as adopted by the Rajagopal et al. 2016
full-body model (IEEE TBME 63:2068). Lumped muscles (hamstrings, gluteus maximus, iliopsoas, vasti,
gastrocnemius) average their constituents weighted by Rajagopal's maximum isometric forces, so that
``ρ · F · l / σ`` summed over the constituents equals the lumped muscle's.
"""

from __future__ import annotations

import numpy as np

from teacher.synergies import split_side

OPTIMAL_FIBRE_LENGTH_M = {
    "hamstrings": 0.0957,  # semimembranosus 0.069 (2201 N), semitendinosus 0.193 (591 N), biceps femoris LH 0.0976 (705 N)
    "bifemsh": 0.1103,  # biceps femoris short head
    "glutmax": 0.1567,  # gluteus maximus superior/middle/inferior 0.147 (573 N), 0.157 (819 N), 0.167 (552 N)
    "iliopsoas": 0.1118,  # iliacus 0.1066 (1073 N), psoas 0.1169 (1113 N)
    "rectfem": 0.0759,
    "vasti": 0.0986,  # lateralis 0.0994 (5149 N), medialis 0.0968 (2748 N), intermedius 0.0993 (1697 N)
    "gastroc": 0.0536,  # medial 0.051 (3116 N), lateral 0.0588 (1575 N)
    "soleus": 0.0440,
    "tibant": 0.0683,
    "edl": 0.0693,
    "fdl": 0.0446,
}


def optimal_fibre_lengths(muscle_names: list[str] | tuple[str, ...]) -> np.ndarray:
    """Per muscle (``name_r``/``name_l``), its published optimal fibre length in m."""
    groups = [split_side(name)[0] for name in muscle_names]
    unknown = sorted(set(groups) - set(OPTIMAL_FIBRE_LENGTH_M))
    if unknown:
        raise KeyError(f"no published fibre length for muscle groups {unknown}; add them to OPTIMAL_FIBRE_LENGTH_M")
    return np.array([OPTIMAL_FIBRE_LENGTH_M[g] for g in groups])
