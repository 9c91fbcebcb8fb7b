// MediaPipe Pose (BlazePose GHUM 3D) landmarks, lite/full/heavy: 33 body
// keypoints per person.
//
// MediaPipe finds the person region with its own pose detector, whose TFLite file
// uses sparse weights our converter cannot read; here the SSD object detector's
// Person boxes play that part. Each box becomes a square region 1.25x its long
// side (MediaPipe's margin), the 256x256 landmark network runs on it, and the
// landmarks are refined with the network's heatmap as MediaPipe does. Where the
// object detector sees no body (a close-up, a half-length portrait), a face that no
// person box holds (BlazeFace short range) gives the region instead: the body a
// face of that size implies, framed as MediaPipe frames one. One Detection per
// person: box = the person detector's box (the pose's extent for a face-found
// person), score = pose presence, keypoints with score = visibility. The Model
// owns the three networks; not thread-safe.
#pragma once

#include <string>
#include <vector>

#include "inference/model.h"

namespace heteroaccel::inference {

// MediaPipe's 33 pose landmark names, in the model's order.
const std::vector<std::string>& PoseKeypointNames();
// MediaPipe's pose topology over those names.
const Skeleton& PoseSkeleton();

ModelSpec PoseLiteSpec();  // default
ModelSpec PoseFullSpec();
ModelSpec PoseHeavySpec();

}  // namespace heteroaccel::inference
